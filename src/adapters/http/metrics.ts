/**
 * A small Prometheus text-format registry: request counts and durations, error codes, and gauges that
 * other parts register as callbacks (policy reload state, live leases). Kept in-process on purpose: the
 * same code runs on Workers, where the usual Node metrics libraries do not.
 */

export interface Metrics {
  observeRequest(method: string, status: number, durationMs: number): void
  countError(code: string): void
  count(name: string, help: string, labels?: Record<string, string>, by?: number): void
  gauge(
    name: string,
    help: string,
    read: () => number | Array<{ labels: Record<string, string>; value: number }>,
  ): void
  render(): string
}

const DURATION_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000]

export function createMetrics(): Metrics {
  const counters = new Map<string, { help: string; values: Map<string, number> }>()
  const gauges = new Map<string, { help: string; read: Parameters<Metrics['gauge']>[2] }>()
  const buckets = new Array<number>(DURATION_BUCKETS_MS.length + 1).fill(0)
  let durationSum = 0
  let durationCount = 0

  function count(name: string, help: string, labels: Record<string, string> = {}, by = 1) {
    let counter = counters.get(name)
    if (counter === undefined) {
      counter = { help, values: new Map() }
      counters.set(name, counter)
    }
    const key = formatLabels(labels)
    counter.values.set(key, (counter.values.get(key) ?? 0) + by)
  }

  return {
    observeRequest(method, status, durationMs) {
      count('keygate_http_requests_total', 'HTTP requests by method and status class', {
        method,
        status: `${Math.floor(status / 100)}xx`,
      })
      const index = DURATION_BUCKETS_MS.findIndex((le) => durationMs <= le)
      buckets[index === -1 ? DURATION_BUCKETS_MS.length : index]! += 1
      durationSum += durationMs / 1000
      durationCount += 1
    },
    countError(code) {
      count('keygate_errors_total', 'Refused or failed requests by error code', { code })
    },
    count,
    gauge(name, help, read) {
      gauges.set(name, { help, read })
    },
    render() {
      const lines: string[] = []
      for (const [name, { help, values }] of counters) {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`)
        for (const [labels, value] of values) lines.push(`${name}${labels} ${value}`)
      }
      lines.push(
        '# HELP keygate_http_request_duration_seconds HTTP request duration',
        '# TYPE keygate_http_request_duration_seconds histogram',
      )
      let cumulative = 0
      DURATION_BUCKETS_MS.forEach((le, i) => {
        cumulative += buckets[i]!
        lines.push(`keygate_http_request_duration_seconds_bucket{le="${le / 1000}"} ${cumulative}`)
      })
      lines.push(`keygate_http_request_duration_seconds_bucket{le="+Inf"} ${durationCount}`)
      lines.push(
        `keygate_http_request_duration_seconds_sum ${durationSum}`,
        `keygate_http_request_duration_seconds_count ${durationCount}`,
      )
      for (const [name, { help, read }] of gauges) {
        lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`)
        const value = read()
        if (typeof value === 'number') lines.push(`${name} ${value}`)
        else for (const v of value) lines.push(`${name}${formatLabels(v.labels)} ${v.value}`)
      }
      return `${lines.join('\n')}\n`
    },
  }
}

function formatLabels(labels: Record<string, string>): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`
}
