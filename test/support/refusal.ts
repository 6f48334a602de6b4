// The KeygateError a use case refused with, for tests that assert its code, wording, reasons and details:
// fails the test when the promise resolves or rejects with anything else.
import { expect } from 'vitest'
import { KeygateError } from '../../src/core/errors.ts'

export async function refusal(promise: Promise<unknown>): Promise<KeygateError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(KeygateError)
  return error as KeygateError
}

/** The code and wording a synchronous call refused with, undefined when it returned; anything thrown
 *  that is no KeygateError reads as code "?", so an assertion on the code fails on it. */
export function thrownBy(call: () => unknown): { code: string; message: string } | undefined {
  try {
    call()
    return undefined
  } catch (error) {
    return error instanceof KeygateError
      ? { code: error.code, message: error.message }
      : { code: '?', message: '?' }
  }
}
