/**
 * The broker as a Cloudflare Worker: the same Hono app and core as `keygate serve`, wired with the
 * Worker adapters (src/adapters/workers). Wiring only.
 *
 * Per isolate (built on the first event, kept while the isolate lives): configuration from the
 * bindings, the bundled policy, the IdP adapters with their KV-backed metadata cache, and the composed
 * app. Per request: a postgres.js client over Hyperdrive, reached by the app through a request-scoped
 * Store and ended after the response. The Cron Trigger runs the expiry sweep. No filesystem, no
 * migrations (`keygate migrate` with DATABASE_URL does those), no development IdP.
 */

import { NOT_READY_STATUS, toKeygateError } from '../adapters/http/errors.ts'
import { createIdentityProviders } from '../adapters/idp/oidc-identity-provider.ts'
import { createJsonLogger } from '../adapters/runtime/json-logger.ts'
import { createDatabaseAvailability } from '../adapters/storage/database-availability.ts'
import { DEFAULT_POLICY_NAME, loadBundledPolicyReport } from '../adapters/workers/bundled-policy.ts'
import { createCloudflareRateLimiter } from '../adapters/workers/cloudflare-rate-limiter.ts'
import { openRequestStore } from '../adapters/workers/hyperdrive-store.ts'
import { createKvMetadataCache } from '../adapters/workers/kv-metadata-cache.ts'
import { createPollingNotifier, SYNC_MAX_WAIT_MS } from '../adapters/workers/polling-notifier.ts'
import { requestScoped, runInRequestScope } from '../adapters/workers/request-scope.ts'
import { runScheduledSweep } from '../adapters/workers/scheduled-sweep.ts'
import {
  environmentFromBindings,
  type WorkerBindings,
  type WorkerExecutionContext,
  type WorkerScheduledController,
} from '../adapters/workers/worker-bindings.ts'
import { parseConfig } from '../core/config.ts'
import { KeygateError } from '../core/errors.ts'
import { parseIdpConfigs } from '../core/identity/index.ts'
import { fixedPolicyStatus } from '../core/policy/index.ts'
import { parseStepUpConfig } from '../core/step-up/step-up-config.ts'
import { type ComposedApp, composeApp } from './compose-app.ts'

let isolate: Promise<ComposedApp> | null = null
/** Whether the database answered lately, kept across the isolate's requests (hyperdrive-store.ts). */
const databaseAvailability = createDatabaseAvailability()

function composeForIsolate(bindings: WorkerBindings): Promise<ComposedApp> {
  // A failed start (bad configuration or policy) is not kept: the next event tries again and logs again.
  isolate ??= compose(bindings).catch((error: unknown) => {
    isolate = null
    throw error
  })
  return isolate
}

async function compose(bindings: WorkerBindings): Promise<ComposedApp> {
  const env = environmentFromBindings(bindings)
  const idpConfigs = parseIdpConfigs(env)
  const config = parseConfig(env, idpConfigs.length > 0)
  const logger = createJsonLogger((line) => console.log(line), config.logLevel)
  if (config.secret === null) {
    throw new KeygateError(
      'CONFIG_INVALID',
      'KEYGATE_SECRET is required on Workers: set it with `wrangler secret put KEYGATE_SECRET`',
    )
  }
  if (idpConfigs.length === 0) {
    throw new KeygateError(
      'CONFIG_INVALID',
      'No identity provider is configured (the development IdP does not run on Workers): set KEYGATE_IDP_<ID>_*',
    )
  }
  if (bindings.HYPERDRIVE?.connectionString === undefined) {
    throw new KeygateError('CONFIG_INVALID', 'The HYPERDRIVE binding is missing: see wrangler.toml')
  }
  const { policy, tests } = loadBundledPolicyReport(env.KEYGATE_POLICY ?? DEFAULT_POLICY_NAME)
  // The admin console's policy panel: this isolate's compile and its tests. There is no reload to report
  // (lastAttemptAt null): a policy that fails to load or its tests never serves; every request answers 503.
  const policyStatus = { ...fixedPolicyStatus(policy), loadedAt: Date.now(), tests }
  const store = requestScoped((scope) => scope.store)
  const composed = await composeApp({
    config,
    store,
    secret: config.secret,
    previousSecrets: config.previousSecrets,
    policy: () => policy,
    policyStatus: () => policyStatus,
    idps: createIdentityProviders(idpConfigs, {
      logger,
      metadataCache: createKvMetadataCache(bindings.KEYGATE_CACHE),
    }),
    logger,
    limiter: (clock) => createCloudflareRateLimiter(bindings, config.rateLimits, clock, logger),
    clientAddress: (c) => c.req.header('cf-connecting-ip'),
    factors: requestScoped((scope) => scope.factors),
    stepUp: parseStepUpConfig(env),
    maxSyncWaitMs: SYNC_MAX_WAIT_MS,
    coalesceReads: false,
    devices: requestScoped((scope) => scope.devices),
    notifier: createPollingNotifier({
      version: (gateway) => store.gatewayFeedVersion(gateway),
      onError: (error) =>
        logger.warn('gateway.poll_failed', { error: error instanceof Error ? error.message : String(error) }),
    }),
  })
  logger.info('keygate.started', {
    runtime: 'workers',
    url: config.url,
    policyHash: policy.hash,
    idps: [...composed.broker.idps.keys()],
  })
  return composed
}

export default {
  async fetch(request: Request, bindings: WorkerBindings, ctx: WorkerExecutionContext): Promise<Response> {
    let composed: ComposedApp
    try {
      composed = await composeForIsolate(bindings)
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', event: 'keygate.start_failed', error: describe(error) }))
      const failure = toKeygateError(error)
      return Response.json(
        {
          error: {
            code: failure.code,
            message: 'Keygate is not configured correctly; the Worker log says why',
          },
        },
        { status: NOT_READY_STATUS },
      )
    }
    const { store, factors, devices, close } = openRequestStore(
      bindings.HYPERDRIVE.connectionString,
      databaseAvailability,
    )
    try {
      return await runInRequestScope({ store, factors, devices, request }, async () =>
        composed.app.fetch(request, bindings, ctx as never),
      )
    } finally {
      ctx.waitUntil(close())
    }
  },

  async scheduled(
    controller: WorkerScheduledController,
    bindings: WorkerBindings,
    ctx: WorkerExecutionContext,
  ): Promise<void> {
    const composed = await composeForIsolate(bindings)
    const { store, factors, devices, close } = openRequestStore(
      bindings.HYPERDRIVE.connectionString,
      databaseAvailability,
    )
    try {
      await runInRequestScope({ store, factors, devices, request: null }, () =>
        runScheduledSweep(
          composed.broker,
          bindings.KEYGATE_CACHE,
          parseConfig(environmentFromBindings(bindings), true).auditRetentionMs,
        ),
      )
    } catch (error) {
      composed.broker.logger.error('lease.sweep_failed', { cron: controller.cron, error: describe(error) })
      throw error
    } finally {
      ctx.waitUntil(close())
    }
  },
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
