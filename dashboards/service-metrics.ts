// Service metrics of every phasesweep process, from the /metrics endpoints Prometheus scrapes:
// coordinator (leases, heartbeats, sweeps), workers (epochs, trials), ingesters (throughput,
// lag, errors) and process health.
import {
  DashboardBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeSeries } from '@grafana/grafana-foundation-sdk/timeseries';
import { PROMETHEUS, promql } from './datasources.js';

function series(title: string, unit: string, queries: [expr: string, legend: string][]) {
  const panel = new TimeSeries().title(title).datasource(PROMETHEUS).unit(unit).span(8).height(8);
  queries.forEach(([expr, legend], i) => panel.withTarget(promql(expr, legend, String.fromCharCode(65 + i))));
  return panel;
}

export function serviceMetrics() {
  return new DashboardBuilder('phasesweep: service metrics')
    .uid('phasesweep-service-metrics')
    .tags(['phasesweep'])
    .description('Coordinator, worker and ingester metrics scraped from /metrics')
    .refresh('10s')
    .time({ from: 'now-1h', to: 'now' })
    .withVariable(
      new QueryVariableBuilder('job')
        .label('Job')
        .datasource(PROMETHEUS)
        .query('label_values(process_start_time_seconds, job)')
        .refresh(VariableRefresh.OnDashboardLoad)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    )
    .withRow(new RowBuilder('Coordinator'))
    .withPanel(
      series('Workers connected and trials by state', 'short', [
        ['sum(phasesweep_coordinator_workers{job=~"$job"})', 'workers'],
        ['sum by (state) (phasesweep_sweep_trials{job=~"$job"})', '{{state}}'],
      ]),
    )
    .withPanel(
      series('Leases and heartbeats', 'ops', [
        [
          'sum(rate(phasesweep_coordinator_leases_granted_total{job=~"$job"}[$__rate_interval]))',
          'granted/s',
        ],
        [
          'sum(rate(phasesweep_coordinator_leases_expired_total{job=~"$job"}[$__rate_interval]))',
          'expired/s',
        ],
        ['sum(rate(phasesweep_coordinator_heartbeats_total{job=~"$job"}[$__rate_interval]))', 'heartbeats/s'],
      ]),
    )
    .withPanel(
      series('Sweep progress', 'percentunit', [
        [
          'sum by (sweep) (phasesweep_sweep_epochs_done{job=~"$job"}) / sum by (sweep) (phasesweep_sweep_epochs_planned{job=~"$job"})',
          '{{sweep}}',
        ],
      ]),
    )
    .withPanel(
      series('Coordinator errors', 'ops', [
        [
          'sum(rate(phasesweep_coordinator_results_rejected_total{job=~"$job"}[$__rate_interval]))',
          'stale results/s',
        ],
        [
          'sum(rate(phasesweep_coordinator_probe_events_total{job=~"$job",outcome="dropped"}[$__rate_interval]))',
          'dropped events/s',
        ],
        [
          'sum by (status) (rate(phasesweep_coordinator_trial_events_total{job=~"$job",status=~"failed|retrying"}[$__rate_interval]))',
          '{{status}}/s',
        ],
      ]),
    )
    .withRow(new RowBuilder('Workers'))
    .withPanel(
      series('Epochs per second', 'ops', [
        [
          'sum by (instance) (rate(phasesweep_worker_epochs_total{job=~"$job"}[$__rate_interval]))',
          '{{instance}}',
        ],
        ['sum(rate(phasesweep_worker_epochs_total{job=~"$job"}[$__rate_interval]))', 'all workers'],
      ]),
    )
    .withPanel(
      series('Trials finished by outcome', 'short', [
        [
          'sum by (outcome) (increase(phasesweep_worker_trials_total{job=~"$job"}[$__rate_interval]))',
          '{{outcome}}',
        ],
      ]),
    )
    .withPanel(
      series('Worker connection', 'short', [
        ['sum(phasesweep_worker_connected{job=~"$job"})', 'connected'],
        ['sum(increase(phasesweep_worker_reconnects_total{job=~"$job"}[$__rate_interval]))', 'reconnects'],
        ['sum(increase(phasesweep_worker_leases_lost_total{job=~"$job"}[$__rate_interval]))', 'leases lost'],
      ]),
    )
    .withRow(new RowBuilder('Ingest'))
    .withPanel(
      series('Events published and ingested', 'ops', [
        ['sum(rate(phasesweep_worker_events_published_total{job=~"$job"}[$__rate_interval]))', 'published/s'],
        ['sum(rate(phasesweep_ingest_events_total{job=~"$job"}[$__rate_interval]))', 'ingested/s'],
      ]),
    )
    .withPanel(
      series('Ingest lag', 's', [
        [
          'histogram_quantile(0.95, sum by (le) (rate(phasesweep_ingest_lag_seconds_bucket{job=~"$job"}[$__rate_interval])))',
          'p95',
        ],
        ['time() - max(phasesweep_ingest_last_batch_timestamp_seconds{job=~"$job"})', 'since last batch'],
      ]),
    )
    .withPanel(
      series('Ingest errors', 'short', [
        [
          'sum(increase(phasesweep_ingest_dead_lettered_total{job=~"$job"}[$__rate_interval]))',
          'dead-lettered',
        ],
        [
          'sum(increase(phasesweep_ingest_failed_inserts_total{job=~"$job"}[$__rate_interval]))',
          'failed inserts',
        ],
      ]),
    )
    .withRow(new RowBuilder('Processes'))
    .withPanel(
      series('CPU', 'percentunit', [
        ['rate(process_cpu_seconds_total{job=~"$job"}[$__rate_interval])', '{{job}} {{instance}}'],
      ]),
    )
    .withPanel(
      series('Resident memory', 'bytes', [
        ['process_resident_memory_bytes{job=~"$job"}', '{{job}} {{instance}}'],
      ]),
    )
    .withPanel(
      series('Event loop lag p99', 's', [
        ['nodejs_eventloop_lag_p99_seconds{job=~"$job"}', '{{job}} {{instance}}'],
      ]),
    );
}
