/**
 * The OpenAPI 3.1 description of Keygate's HTTP contract (DESIGN.md "The external contract").
 * Change a route or a code here in the same commit as README.md.
 */
import { ERROR_CODES } from '../../core/errors.ts'

const error = { $ref: '#/components/responses/Error' }
const json = (schema: object) => ({ content: { 'application/json': { schema } } })

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
          responses: { 302: { description: 'To the IdP' }, 404: error },
        },
      },
      '/auth/{idp}/callback': {
        get: {
          summary: 'The IdP returns here; sets the session cookie',
          security: [],
          responses: { 303: { description: 'Signed in' }, 400: error, 401: error },
        },
      },
      '/auth/logout': {
        post: { summary: 'End the session', responses: { 204: { description: 'Signed out' } } },
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
              ...json({ $ref: '#/components/schemas/Lease' }),
            },
            400: error,
            401: error,
            403: error,
            409: error,
            413: error,
          },
        },
      },
      '/api/v1/peers/{id}': {
        delete: {
          summary: 'Revoke my lease',
          responses: { 200: { description: 'Revoked' }, 404: error, 409: error },
        },
      },
      '/api/v1/peers/{id}/renew': {
        post: {
          summary: 'Same key and address, new expiry',
          responses: { 200: { description: 'Renewed' }, 401: error, 403: error, 404: error },
        },
      },
      '/api/v1/admin/leases': {
        get: { summary: 'All leases (admins)', responses: { 200: { description: 'OK' }, 403: error } },
      },
      '/api/v1/admin/leases/{id}': {
        delete: {
          summary: 'Revoke any lease (admins)',
          responses: { 200: { description: 'OK' }, 403: error },
        },
      },
      '/api/v1/admin/gateways': {
        get: { summary: 'Gateways and their health (admins)', responses: { 200: { description: 'OK' } } },
      },
      '/api/v1/admin/audit': {
        get: { summary: 'The audit log; ?format=jsonl exports', responses: { 200: { description: 'OK' } } },
      },
      '/api/v1/gateways/enroll': {
        post: {
          summary: 'A gateway enrols with its one-time token',
          security: [{ gateway: [] }],
          responses: { 200: { description: 'Credential' }, 401: error },
        },
      },
      '/api/v1/gateways/sync': {
        get: {
          summary: 'Long-poll the gateway change feed',
          security: [{ gateway: [] }],
          responses: { 200: { description: 'Changes' }, 401: error },
        },
      },
      '/api/v1/gateways/status': {
        post: {
          summary: 'A gateway reports what it applied',
          security: [{ gateway: [] }],
          responses: { 204: { description: 'Recorded' } },
        },
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
