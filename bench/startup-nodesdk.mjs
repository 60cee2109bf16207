// The baseline of register_startup_vs_nodesdk (bench/suites/startup.bench.ts):
// a bare OpenTelemetry NodeSDK started with its defaults, as
// `node --import ./bench/startup-nodesdk.mjs -e 0`.
import { NodeSDK } from '@opentelemetry/sdk-node';

new NodeSDK().start();
