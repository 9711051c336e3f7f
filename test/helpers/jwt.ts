/** An unsigned JWT with the given payload (gptconv decodes, never verifies). */
export function fakeJwt(payload: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
  return `${part({alg: 'RS256', typ: 'JWT'})}.${part(payload)}.${Buffer.from('signature-bytes-for-tests').toString('base64url')}`
}

export function accessToken(options: {email?: string; expiresInS?: number} = {}): string {
  return fakeJwt({
    exp: Math.floor(Date.now() / 1000) + (options.expiresInS ?? 3600),
    'https://api.openai.com/profile': {email: options.email ?? 'alice@example.com'},
    'https://api.openai.com/auth': {chatgpt_account_id: 'acct-test'},
  })
}
