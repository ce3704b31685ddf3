#!/usr/bin/env node
/**
 * `kubectl egress <command> [options]`: the tool as a kubectl plugin. kubectl runs an
 * executable named `kubectl-egress` found on PATH for `kubectl egress ...`, with the arguments
 * after `egress` (kubectl's plugin handler, `staging/src/k8s.io/kubectl/pkg/cmd/plugin`); every
 * command is passed on as it is. The cluster state comes from the current kubeconfig context
 * (`--context`, `--kubeconfig`, else KUBECONFIG, else ~/.kube/config) unless `--state` gives it.
 */
import { runProgram } from './main';

runProgram({ kubectlPlugin: true });
