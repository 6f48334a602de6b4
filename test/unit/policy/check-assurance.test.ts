// The assurance check's reasons name every value a level accepts (src/core/policy/check-assurance.ts):
// a person refused with "acr [a, b]" learns which sign-ins would do.
import { describe, expect, it } from 'vitest'
import { checkAssurance } from '../../../src/core/policy/check-assurance.ts'
import { NOW, subject } from './helpers.ts'

describe('checkAssurance', () => {
  it('lists each acceptable acr, separated, against the one the sign-in had', () => {
    const level = { name: 'hw', mfa: false, amrAny: null, acrAny: ['phrh', 'phr'], maxAuthAgeMs: null }
    expect(checkAssurance(level, subject('a@example.com', { acr: 'c1' }).auth, NOW, false)).toEqual({
      met: false,
      failures: [
        {
          code: 'ACR_NOT_MET',
          message: '(assurance "hw") requires one of acr [phrh, phr]; the sign-in had c1',
        },
      ],
      deadline: Number.POSITIVE_INFINITY,
    })
  })
})
