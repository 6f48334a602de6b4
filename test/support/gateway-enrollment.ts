// Enrolling a gateway as `keygate gateway add` and the agent's first start do, for tests that need an
// enrolled gateway but are not about enrolment: the admin token from the data dir mints a one-time
// token, and the token enrolls a fresh key pair. Any refusal throws with the broker's answer.
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, type WireGuardKeyPair } from '../../src/core/peers/keys.ts'
import { type EnrollResponse, PROTOCOL_VERSION } from '../../src/core/sync/protocol.ts'

/** Any running broker: an in-process test broker or a broker process. */
export interface BrokerAddress {
  origin: string
  dataDir: string
}

export interface EnrolledGateway extends EnrollResponse {
  /** The one-time enrollment token (spent). */
  token: string
  keys: WireGuardKeyPair
}

export async function readAdminToken(broker: BrokerAddress): Promise<string> {
  return (await readFile(join(broker.dataDir, 'admin-token'), 'utf8')).trim()
}

/** A one-time enrollment token for the gateway, minted with the admin token. */
export async function mintEnrollmentToken(broker: BrokerAddress, gateway: string): Promise<string> {
  const minted = await fetch(
    `${broker.origin}/api/v1/admin/gateways/${encodeURIComponent(gateway)}/enrollment-token`,
    { method: 'POST', headers: { authorization: `Bearer ${await readAdminToken(broker)}` } },
  )
  if (minted.status !== 201)
    throw new Error(`minting a token for ${gateway}: ${minted.status} ${await minted.text()}`)
  return ((await minted.json()) as { token: string }).token
}

export async function enrollGateway(broker: BrokerAddress, gateway: string): Promise<EnrolledGateway> {
  const token = await mintEnrollmentToken(broker, gateway)
  const keys = generateKeyPair((n) => new Uint8Array(randomBytes(n)))
  const enrolled = await fetch(`${broker.origin}/api/v1/gateways/enroll`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ protocolVersion: PROTOCOL_VERSION, publicKey: keys.publicKey }),
  })
  if (enrolled.status !== 200)
    throw new Error(`enrolling ${gateway}: ${enrolled.status} ${await enrolled.text()}`)
  return { token, keys, ...((await enrolled.json()) as EnrollResponse) }
}
