/**
 * The OpenAPI 3.1 description of Keygate's HTTP contract (DESIGN.md "The external contract").
 * Change a route or a code here in the same commit as README.md.
 */
import { ERROR_CODES } from '../../core/errors.ts'

const error = { $ref: '#/components/responses/Error' }
/** SCIM answers are SCIM messages (application/scim+json), errors in RFC 7644 §3.12's format. */
const scimAnswers = {
  200: { description: 'A SCIM resource or ListResponse' },
  201: { description: 'Created' },
  204: { description: 'Deleted' },
  400: { description: 'SCIM error (invalidSyntax, invalidValue, invalidFilter, …)' },
  401: { description: 'SCIM error: no or unknown bearer token' },
  404: { description: 'SCIM error: no such resource' },
  409: { description: 'SCIM error: uniqueness' },
}
/** 429 RATE_LIMITED: the client is over its limit (README.md, Configuration); Retry-After says when to retry. */
const rateLimited = {
  description: 'RATE_LIMITED: too many requests from this client',
  headers: { 'Retry-After': { description: 'seconds', schema: { type: 'integer' } } },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
}
/** The retry key of issuance, renewal and revocation (one mechanism, README.md "Retrying"). */
const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', minLength: 1, maxLength: 255 },
}
const json = (schema: object) => ({ content: { 'application/json': { schema } } })
/** A server-rendered portal page: part of the contract (links and bookmarks point at it), not an API. */
const page = (summary: string) => ({
  get: {
    summary,
    tags: ['portal'],
    responses: {
      200: { description: 'The page', content: { 'text/html': {} } },
      303: { description: 'To sign-in' },
    },
  },
})
/** A form post from a portal page; answers with a redirect so a reload never repeats it. */
const form = (summary: string) => ({
  post: {
    summary,
    tags: ['portal'],
    responses: { 303: { description: 'Done; back to the page' }, 403: error },
  },
})
/** A JSON call made by the step-up page's script. */
const stepUpCall = (summary: string) => ({
  post: {
    summary,
    tags: ['step-up'],
    responses: { 200: { description: 'OK' }, 400: error, 401: error, 429: error },
  },
})

export function openApiDocument(serverUrl: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Keygate',
      version: '1',
      description: 'SSO and MFA in front of WireGuard: short-lived peers issued after a verified sign-in.',
    },
    servers: [{ url: serverUrl }],
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'kg_session' },
        gateway: {
          type: 'http',
          scheme: 'bearer',
          description: 'A gateway credential or a one-time enrollment token',
        },
        client: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A client credential (kgd_…) from /api/v1/device/token: reads, watches, renews and ends its one lease',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', enum: [...ERROR_CODES] },
                message: { type: 'string' },
                reasons: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      code: { type: 'string' },
                      message: { type: 'string' },
                      source: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
        Lease: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: ['string', 'null'] },
            publicKey: { type: 'string' },
            addresses: { type: 'array', items: { type: 'string' } },
            gateways: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  gateway: { type: 'string' },
                  routes: { type: 'array', items: { type: 'string' } },
                },
              },
            },
            state: { type: 'string', enum: ['active', 'revoked', 'expired'] },
            createdAt: { type: 'string', format: 'date-time' },
            expiresAt: { type: 'string', format: 'date-time' },
          },
        },
      },
      responses: {
        Error: {
          description: 'An error with a stable code',
          ...json({ $ref: '#/components/schemas/Error' }),
        },
      },
    },
    security: [{ session: [] }],
    paths: {
      '/auth/{idp}/login': {
        get: {
          summary: 'Start sign-in with an IdP (302 to the IdP)',
          security: [],
          responses: { 302: { description: 'To the IdP' }, 404: error, 429: rateLimited },
        },
      },
      '/auth/{idp}/callback': {
        get: {
          summary: 'The IdP returns here; sets the session cookie',
          security: [],
          responses: { 303: { description: 'Signed in' }, 400: error, 401: error, 429: rateLimited },
        },
      },
      '/auth/logout': {
        post: { summary: 'End the session', responses: { 204: { description: 'Signed out' } } },
      },
      '/auth/logout/everywhere': {
        post: {
          summary: 'End every session of the signed-in identity (all browsers and devices); audited',
          responses: { 204: { description: 'Signed out everywhere' } },
        },
      },
      '/auth/{idp}/backchannel-logout': {
        post: {
          summary:
            'OpenID Connect Back-Channel Logout 1.0: a form-encoded logout_token from the IdP ends the matching sessions (and, per the policy, revokes the leases)',
          responses: {
            200: { description: 'Logged out' },
            400: {
              description: '{ "error": "invalid_request", "error_description" } when the token is refused',
            },
          },
        },
      },
      '/api/v1/me': {
        get: {
          summary: 'The session, its assurance verdict and the policy decision',
          responses: { 200: { description: 'OK' }, 401: error },
        },
      },
      '/api/v1/peers': {
        get: { summary: 'My leases', responses: { 200: { description: 'OK' }, 401: error } },
        post: {
          summary: 'Mint a lease for a public key made on the client',
          description:
            'With an Idempotency-Key header, a retry with the same key and body (within 24 h) answers with the ' +
            'lease the first request made, never a second one; the same key with another body is 422 ' +
            'IDEMPOTENCY_KEY_REUSED. When the policy allows access but none of the granted gateways has ' +
            'enrolled yet, nothing is minted: 409 NO_GATEWAY_ENROLLED, with `gateways` naming them. When some ' +
            'have enrolled, the lease is minted and `pendingGateways` names the others (their [Peer] is missing ' +
            'from the config; fetch it again once they are up). A device name is free text up to 64 characters; ' +
            'only control, format and line-separator characters are refused (400, the character named).',
          parameters: [idempotencyKey],
          requestBody: json({
            type: 'object',
            required: ['publicKey'],
            properties: {
              publicKey: { type: 'string' },
              name: { type: 'string', maxLength: 64 },
              gateways: { type: 'array', items: { type: 'string' } },
            },
          }),
          responses: {
            201: {
              description: 'The lease and its wg-quick config',
              ...json({
                allOf: [
                  { $ref: '#/components/schemas/Lease' },
                  {
                    type: 'object',
                    properties: {
                      config: { type: 'string' },
                      pendingGateways: {
                        type: 'array',
                        items: { type: 'string' },
                        description: 'Granted gateways that have not enrolled yet: not in this config',
                      },
                    },
                  },
                ],
              }),
            },
            400: error,
            401: error,
            403: error,
            409: error,
            413: error,
            422: error,
            429: rateLimited,
          },
        },
      },
      '/api/v1/peers/{id}/config': {
        get: {
          summary: 'My lease with its wg-quick config again (private key left as a placeholder)',
          responses: {
            200: { description: 'The lease and its config', ...json({ $ref: '#/components/schemas/Lease' }) },
            401: error,
            404: error,
          },
        },
      },
      '/api/v1/peers/{id}': {
        get: {
          summary: 'The lease as its client sees it: state, tunnel (peers, addresses), what renewal needs',
          security: [{ client: [] }],
          responses: { 200: { description: 'The lease' }, 401: error, 404: error },
        },
        delete: {
          summary:
            'Revoke my lease (with a client credential: `keygate logout`, 204, credential revoked too)',
          description:
            'Idempotent: revoking a lease that has already ended (revoked or expired) is 200 with the lease as ' +
            'it is and `alreadyEnded: true`; nothing changes and nothing is audited again. With an ' +
            'Idempotency-Key header (sessions), a retry with the same key (within 24 h) answers with the first ' +
            'answer; the same key on another request is 422 IDEMPOTENCY_KEY_REUSED. With a client credential ' +
            'the call is idempotent as it is (204 again).',
          security: [{ session: [] }, { client: [] }],
          parameters: [idempotencyKey],
          responses: {
            200: { description: 'Revoked, or had already ended (`alreadyEnded`)' },
            204: { description: 'Ended' },
            400: error,
            401: error,
            404: error,
            422: error,
          },
        },
      },
      '/api/v1/peers/{id}/renew': {
        post: {
          summary: "Same key and address, new expiry (a session, or the lease's client credential)",
          description:
            'With an Idempotency-Key header, a retry with the same key (within 24 h) answers with the lease as ' +
            'it is, without renewing again; the same key on another request is 422 IDEMPOTENCY_KEY_REUSED.',
          security: [{ session: [] }, { client: [] }],
          parameters: [idempotencyKey],
          responses: {
            200: { description: 'Renewed' },
            400: error,
            401: error,
            403: error,
            404: error,
            409: error,
            422: error,
          },
        },
      },
      '/api/v1/peers/{id}/watch': {
        get: {
          summary:
            'The client feed: answers when the lease differs from ?since=STATE, else waits up to ?wait=S (max 60) for a change',
          security: [{ client: [] }],
          responses: { 200: { description: 'The lease' }, 401: error, 404: error },
        },
      },
      '/api/v1/device/authorize': {
        post: {
          summary:
            'RFC 8628 device authorization: public_key, name (and, with a client credential, lease_id to sign in again for that lease)',
          security: [],
          requestBody: {
            content: {
              'application/x-www-form-urlencoded': {
                schema: {
                  type: 'object',
                  required: ['public_key'],
                  properties: {
                    public_key: { type: 'string' },
                    name: { type: 'string' },
                    lease_id: { type: 'string' },
                    client_id: { type: 'string' },
                  },
                },
              },
            },
          },
          responses: {
            200: {
              description:
                'device_code, user_code, verification_uri, verification_uri_complete, expires_in, interval',
            },
            400: error,
            401: error,
          },
        },
      },
      '/api/v1/device/token': {
        post: {
          summary:
            'RFC 8628 token request (grant_type=urn:ietf:params:oauth:grant-type:device_code). Errors are OAuth-shaped (400 { error, error_description }): authorization_pending, slow_down (with the new interval), access_denied, expired_token, invalid_grant (unknown or used code), invalid_request, unsupported_grant_type',
          security: [],
          responses: {
            200: {
              description: 'access_token (the client credential), lease, tunnel, preshared_key (new leases)',
            },
            400: { description: 'An RFC 8628 / RFC 6749 error' },
          },
        },
      },
      '/api/v1/admin/leases': {
        get: { summary: 'All leases (admins)', responses: { 200: { description: 'OK' }, 403: error } },
      },
      '/api/v1/admin/leases/{id}': {
        delete: {
          summary: 'Revoke any lease (admins)',
          description:
            'Idempotent: an already-ended lease is 200 with `alreadyEnded: true`, nothing changed. With an ' +
            "Idempotency-Key header (the admin's own keys; the local CLI has its own), a retry with the " +
            'same key (within 24 h) answers with the first answer; the same key on another request is 422 ' +
            'IDEMPOTENCY_KEY_REUSED.',
          parameters: [idempotencyKey],
          responses: {
            200: { description: 'Revoked, or had already ended (`alreadyEnded`)' },
            400: error,
            403: error,
            404: error,
            422: error,
          },
        },
      },
      '/api/v1/admin/gateways/{name}': {
        delete: {
          summary: 'Remove a gateway: credential revoked, feed closed, overlay address freed (admins)',
          responses: { 200: { description: 'Removed' }, 403: error, 404: error },
        },
      },
      '/api/v1/admin/identities/{id}/suspend': {
        post: {
          summary: 'Suspend an identity: sign-in refused, sessions ended, leases revoked (admins)',
          responses: { 200: { description: 'Suspended' }, 403: error, 404: error },
        },
        delete: {
          summary: 'Lift a suspension (admins)',
          responses: { 200: { description: 'OK' }, 404: error },
        },
      },
      '/api/v1/admin/identities/{id}/sign-out': {
        post: {
          summary: 'Sign an identity out everywhere (admins)',
          responses: { 200: { description: 'Sessions ended' }, 403: error, 404: error },
        },
      },
      '/api/v1/admin/scim/{idp}/token': {
        post: {
          summary: 'A new SCIM bearer token for an IdP, shown once; replaces its previous one (admins)',
          responses: { 201: { description: 'The token and the SCIM base URL' }, 403: error, 404: error },
        },
      },
      '/scim/v2/Users': {
        get: { summary: 'SCIM 2.0: list users (filter, startIndex, count)', responses: scimAnswers },
        post: { summary: 'SCIM 2.0: create a user', responses: scimAnswers },
      },
      '/scim/v2/Users/{id}': {
        get: { summary: 'SCIM 2.0: a user', responses: scimAnswers },
        put: { summary: 'SCIM 2.0: replace a user (active: false ends the access)', responses: scimAnswers },
        patch: { summary: 'SCIM 2.0: PatchOp on a user (Okta and Entra ID forms)', responses: scimAnswers },
        delete: { summary: 'SCIM 2.0: delete a user (ends the access)', responses: scimAnswers },
      },
      '/scim/v2/Groups': {
        get: { summary: 'SCIM 2.0: list groups', responses: scimAnswers },
        post: { summary: 'SCIM 2.0: create a group', responses: scimAnswers },
      },
      '/scim/v2/Groups/{id}': {
        get: { summary: 'SCIM 2.0: a group', responses: scimAnswers },
        put: { summary: 'SCIM 2.0: replace a group', responses: scimAnswers },
        patch: {
          summary: 'SCIM 2.0: PatchOp on a group (members; leases are re-judged)',
          responses: scimAnswers,
        },
        delete: { summary: 'SCIM 2.0: delete a group', responses: scimAnswers },
      },
      '/scim/v2/ServiceProviderConfig': {
        get: { summary: 'SCIM 2.0: what this endpoint supports', responses: scimAnswers },
      },
      '/scim/v2/Schemas': { get: { summary: 'SCIM 2.0: the schemas', responses: scimAnswers } },
      '/scim/v2/ResourceTypes': { get: { summary: 'SCIM 2.0: the resource types', responses: scimAnswers } },
      '/api/v1/admin/gateways': {
        get: { summary: 'Gateways and their health (admins)', responses: { 200: { description: 'OK' } } },
      },
      '/api/v1/admin/audit': {
        get: {
          summary:
            'The audit log, newest first; filters ?type= (exact), ?typePrefix=, ?identity=, ?email= (about or by that person); ?format=jsonl exports',
          responses: { 200: { description: 'OK' } },
        },
      },
      '/api/v1/admin/identities/{id}/enrolment-codes': {
        post: {
          summary:
            'A one-time code that lets this identity enrol its first second factor without IdP MFA (admins)',
          responses: { 201: { description: 'The code, shown once, and its expiry' }, 403: error, 404: error },
        },
      },
      '/api/v1/gateways/enroll': {
        post: {
          summary: 'A gateway enrols with its one-time token',
          security: [{ gateway: [] }],
          responses: { 200: { description: 'Credential' }, 401: error, 429: rateLimited },
        },
      },
      '/api/v1/gateways/sync': {
        get: {
          summary: 'Long-poll the gateway change feed',
          security: [{ gateway: [] }],
          responses: { 200: { description: 'Changes' }, 401: error, 429: rateLimited },
        },
      },
      '/api/v1/gateways/status': {
        post: {
          summary: 'A gateway reports what it applied',
          security: [{ gateway: [] }],
          responses: { 204: { description: 'Recorded' }, 400: error, 401: error, 429: rateLimited },
        },
      },
      '/api/v1/admin/readiness': {
        get: {
          summary: "Readiness with its details: each check's error, the policy's reload errors (admins)",
          responses: {
            200: { description: 'Ready' },
            403: error,
            503: { description: 'Not ready, with why' },
          },
        },
      },
      '/api/v1/admin/policy': {
        get: {
          summary: 'The live policy: hash, load time, in-file test results, last reload error (admins)',
          responses: { 200: { description: 'OK' }, 403: error },
        },
      },
      '/api/v1/admin/gateways/{name}/enrollment-token': {
        post: {
          summary: 'A one-time enrollment token for a gateway named in the policy (admins)',
          responses: { 201: { description: 'The token, shown once' }, 403: error, 404: error },
        },
      },
      '/': page('The portal: sign-in, or my access'),
      '/devices/new': page('New device: the key pair is made in the page'),
      '/device': page(
        "The terminal client's verification URI (RFC 8628): ?user_code=XXXX-XXXX shows the device, code, address and time to approve; wrong codes are rate-limited per person",
      ),
      '/device/{id}/approve': form('Approve a device sign-in (issues or renews its lease)'),
      '/device/{id}/refuse': form('Refuse a device sign-in'),
      '/denied': page('Why access was denied, and what to do'),
      '/step-up': page("Keygate's own second factor: TOTP or a security key"),
      '/admin': page('Admin console: overview and gateways'),
      '/admin/leases': page('Admin console: leases'),
      '/admin/audit': page(
        'Admin console: audit log, filtered by ?type= (the start of an event type) and ?who= (an email or an identity id)',
      ),
      '/admin/gateways/{name}/remove': {
        ...page('Admin console: confirm removing a gateway'),
        ...form('Remove a gateway: revoke its credential, empty its feed (admins)'),
      },
      '/leases/{id}/renew': form('Renew my lease'),
      '/leases/{id}/revoke': form('Revoke my lease'),
      '/admin/leases/{id}/revoke': form('Revoke any lease (admins)'),
      '/step-up/totp/enrol': stepUpCall('Start TOTP enrolment: a new secret and its otpauth URI'),
      '/step-up/totp/confirm': stepUpCall('Confirm TOTP enrolment with a first code'),
      '/step-up/totp/verify': stepUpCall('Step up with a TOTP code'),
      '/step-up/webauthn/register/options': stepUpCall('WebAuthn registration options'),
      '/step-up/webauthn/register/verify': stepUpCall('Verify a WebAuthn registration'),
      '/step-up/webauthn/authenticate/options': stepUpCall('WebAuthn authentication options'),
      '/step-up/webauthn/authenticate/verify': stepUpCall('Step up with a WebAuthn assertion'),
      '/static/{file}': {
        get: {
          summary: "The portal's stylesheet and scripts (content-hashed, immutable)",
          security: [],
          tags: ['portal'],
          responses: { 200: { description: 'The file' }, 404: error },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1' } } },
      },
      '/healthz': { get: { security: [], responses: { 200: { description: 'Alive' } } } },
      '/readyz': {
        get: {
          security: [],
          responses: { 200: { description: 'Ready' }, 503: { description: 'Not ready' } },
        },
      },
      '/metrics': { get: { security: [], responses: { 200: { description: 'Prometheus text' } } } },
    },
  }
}
