/**
 * agent-safety-otel/exporters: span processors, exporters and sinks that
 * need the OpenTelemetry SDK (the audit chain, the console tree).
 *
 * @packageDocumentation
 */
export { ConsoleTreeSpanExporter } from './console-tree-exporter.js';
export type { ConsoleTreeSpanExporterOptions } from './console-tree-exporter.js';
