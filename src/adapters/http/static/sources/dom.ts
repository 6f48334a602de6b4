/**
 * Small DOM and fetch helpers shared by the page scripts. Every request is same-origin with the session
 * cookie; JSON bodies only (the CSRF check lets them through because a cross-site page cannot send them
 * without a CORS preflight the broker never grants).
 */

export function $(selector: string, root: ParentNode = document): HTMLElement | null {
  return root.querySelector<HTMLElement>(selector)
}

export function show(element: HTMLElement | null, visible = true): void {
  element?.classList.toggle('hidden', !visible)
}

export interface ApiError {
  status: number
  code: string
  message: string
  reasons: Array<{ code: string; message: string }>
  body: Record<string, unknown>
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers:
      body === undefined
        ? { accept: 'application/json' }
        : { 'content-type': 'application/json', accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await response.text()
  const parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)
  if (!response.ok) {
    const error = (parsed.error ?? {}) as Partial<ApiError> & Record<string, unknown>
    throw {
      status: response.status,
      code: typeof error.code === 'string' ? error.code : 'INTERNAL',
      message: typeof error.message === 'string' ? error.message : `Request failed (${response.status})`,
      reasons: Array.isArray(error.reasons) ? error.reasons : [],
      body: error,
    } satisfies ApiError
  }
  return parsed as T
}

export function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && 'code' in value && 'status' in value
}

/** Shows an error with its reasons in a notice element, as text (never as HTML). */
export function showError(target: HTMLElement | null, error: unknown): void {
  if (target === null) return
  target.replaceChildren()
  const message = isApiError(error) ? error.message : error instanceof Error ? error.message : String(error)
  const p = document.createElement('p')
  p.textContent = message
  target.append(p)
  if (isApiError(error) && error.reasons.length > 0) {
    const list = document.createElement('ul')
    list.className = 'reasons'
    for (const reason of error.reasons) {
      const li = document.createElement('li')
      li.textContent = reason.message
      list.append(li)
    }
    target.append(list)
  }
  target.className = 'notice bad'
  show(target)
  target.focus()
}
