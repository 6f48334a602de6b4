/**
 * The slice of oidc-provider 9's API that the development IdP and the test IdP use.
 *
 * oidc-provider ships no types (they live in DefinitelyTyped, which this project does not install), so
 * this declares only what Keygate calls, checked against the installed sources (lib/provider.js,
 * lib/models/grant.js, lib/helpers/interaction_policy).
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  export interface KoaContextLike {
    method: string
    path: string
    url: string
    query: Record<string, string | string[] | undefined>
    querystring: string
    body: unknown
    status: number
    req: IncomingMessage
    res: ServerResponse
    oidc?: { route?: string; params?: Record<string, unknown>; [key: string]: unknown }
  }

  export type Middleware = (ctx: KoaContextLike, next: () => Promise<void>) => Promise<void> | void

  export interface Account {
    accountId: string
    claims(
      use: string,
      scope: string,
      claims: unknown,
      rejected: string[],
    ): Promise<Record<string, unknown>> | Record<string, unknown>
  }

  export interface InteractionDetails {
    uid: string
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> }
    params: Record<string, unknown>
    session?: { accountId?: string }
    grantId?: string
    lastSubmission?: Record<string, unknown>
  }

  export interface LoginResult {
    accountId: string
    acr?: string
    amr?: string[]
    remember?: boolean
    /** Seconds since the epoch: becomes the ID token's auth_time. */
    ts?: number
  }

  export interface InteractionResults {
    login?: LoginResult
    consent?: { grantId?: string }
    error?: string
    error_description?: string
    [prompt: string]: unknown
  }

  export class Grant {
    constructor(properties: { accountId: string; clientId: string })
    addOIDCScope(scope: string): void
    addOIDCClaims(claims: string[]): void
    save(ttl?: number): Promise<string>
    destroy(): Promise<void>
    static find(id: string): Promise<Grant | undefined>
  }

  export class RefreshToken {
    readonly accountId: string
    readonly grantId?: string
    destroy(): Promise<void>
    static find(value: string): Promise<RefreshToken | undefined>
  }

  export interface OidcContext {
    oidc: {
      client: { clientId: string }
      session: { accountId?: string; grantIdFor(clientId: string): string | undefined }
      result?: InteractionResults
      params?: Record<string, unknown>
      requestParamScopes: Set<string>
      requestParamClaims: Set<string>
      [key: string]: unknown
    }
  }

  export type Configuration = Record<string, unknown>

  export class Provider {
    constructor(issuer: string, configuration?: Configuration)
    readonly issuer: string
    proxy: boolean
    Grant: typeof Grant
    RefreshToken: typeof RefreshToken
    callback(): (req: IncomingMessage, res: ServerResponse) => void
    use(middleware: Middleware): void
    on(event: string, listener: (...args: unknown[]) => void): void
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>
  }

  export class Check {
    constructor(reason: string, description: string, check: (ctx: unknown) => boolean | Promise<boolean>)
    reason: string
  }

  export interface Prompt {
    name: string
    checks: Check[] & { get(reason: string): Check | undefined; remove(reason: string): void }
  }

  export const interactionPolicy: {
    base(): Prompt[] & { get(name: string): Prompt | undefined; remove(name: string): void }
    Check: typeof Check
  }

  export const errors: Record<string, new (...args: unknown[]) => Error>

  export default Provider
}
