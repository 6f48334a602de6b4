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
