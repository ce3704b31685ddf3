# Backup uploads leave with DSCP CS1 (lower-effort), so upstream routers queue them behind
# interactive traffic; each flow is logged with the pod it came from.
when FLOW_INIT {
    IP::tos 32
    log local0.info "backup flow [IP::client_addr] -> [IP::local_addr]"
}
