export * from './provider';
export * from './as3';
export * from './command';
