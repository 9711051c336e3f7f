/**
 * Token counts for usage estimates, with gpt-tokenizer (pure JS, ships its encodings).
 * The encodings are large, so they load on first use.
 */
export type Encoding = {
  encode(text: string): number[]
  decode(tokens: Iterable<number>): string
  countTokens(text: string): number
}

const loaded = new Map<string, Promise<Encoding>>()

/** o200k_base for the gpt-4o generation and later; cl100k_base for gpt-4, gpt-3.5, embeddings and the *-002 completion models. */
export function encodingName(model: string): 'o200k_base' | 'cl100k_base' {
  const m = model.toLowerCase()
  if (/^(gpt-4(?!o|\.)|gpt-3\.5|text-embedding|davinci-002|babbage-002|text-davinci)/.test(m)) return 'cl100k_base'
  return 'o200k_base'
}

export function encodingFor(model: string): Promise<Encoding> {
  const name = encodingName(model)
  let encoding = loaded.get(name)
  if (!encoding) {
    encoding = (
      name === 'cl100k_base'
        ? import('gpt-tokenizer/encoding/cl100k_base')
        : import('gpt-tokenizer/encoding/o200k_base')
    ).then((e) => bounded(e as Encoding))
    loaded.set(name, encoding)
  }

  return encoding
}

/**
 * BPE merges within one pre-token, and the cost grows with the square of its length: a
 * 60 KB run of one character takes seconds, during which the daemon answers nobody. Runs of
 * 1024+ characters without a word boundary are therefore cut into 512-character windows and
 * encoded one by one. Each cut can add one token to the count (an estimate anyway), and the
 * tokens still decode to the same text.
 */
const LONG_RUN = /\S{1024,}|\s{1024,}/g
const WINDOW = 512

export function* segments(text: string): Generator<string> {
  let last = 0
  for (const match of text.matchAll(LONG_RUN)) {
    if (match.index > last) yield text.slice(last, match.index)
    const end = match.index + match[0].length
    for (let i = match.index; i < end;) {
      let next = Math.min(i + WINDOW, end)
      // never split a surrogate pair
      if (next < end && isHighSurrogate(text.charCodeAt(next - 1))) next++
      yield text.slice(i, next)
      i = next
    }

    last = end
  }

  if (last < text.length) yield text.slice(last)
}

const isHighSurrogate = (code: number) => code >= 0xd8_00 && code <= 0xdb_ff

function bounded(encoding: Encoding): Encoding {
  return {
    encode(text) {
      if (text.length < 1024) return encoding.encode(text)
      const out: number[] = []
      for (const piece of segments(text)) for (const token of encoding.encode(piece)) out.push(token)
      return out
    },
    decode: (tokens) => encoding.decode(tokens),
    countTokens(text) {
      if (text.length < 1024) return encoding.countTokens(text)
      let total = 0
      for (const piece of segments(text)) total += encoding.countTokens(piece)
      return total
    },
  }
}

/** How long counting may run before it lets the event loop serve others. */
const SLICE_MS = 4
/** Texts are counted in pieces of about this many characters, cut before whitespace. */
const PIECE = 8192

/** Counting work that gives the event loop back every few milliseconds: a huge prompt must not stall the daemon. */
class Slicer {
  #since = performance.now()

  async tick(): Promise<void> {
    if (performance.now() - this.#since < SLICE_MS) return
    await new Promise((resolve) => setImmediate(resolve))
    this.#since = performance.now()
  }
}

/** Tokens of a text, counted piece by piece with pauses; a cut before whitespace changes the count by a token at most. */
async function countYielding(encoding: Encoding, text: string, slicer: Slicer): Promise<number> {
  if (text.length <= PIECE) return encoding.countTokens(text)
  let total = 0
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + PIECE)
    if (end < text.length) {
      const space = text.lastIndexOf(' ', end)
      if (space > at + PIECE / 2) end = space
      else if (isHighSurrogate(text.charCodeAt(end - 1))) end++
    }

    total += encoding.countTokens(text.slice(at, end))
    at = end
    await slicer.tick()
  }

  return total
}

export async function countText(text: string, model: string): Promise<number> {
  return text ? countYielding(await encodingFor(model), text, new Slicer()) : 0
}

/** Text of a chat message's content (string, or the text parts of an array). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  return content
    .map((part) =>
      typeof part === 'object' && part !== null && typeof (part as {text?: unknown}).text === 'string'
        ? (part as {text: string}).text
        : '',
    )
    .join('')
}

/** Prompt tokens of a chat request, counted the way OpenAI's cookbook does: 3 per message + 3 for the reply's priming. */
export async function countChatPrompt(messages: unknown, model: string): Promise<number> {
  if (!Array.isArray(messages)) return 0
  let total = 3
  for (const count of await countMessages(messages, model)) total += count
  return total
}

/**
 * Tokens of each message (3 for its framing, its role and text, 1 for a name), with pauses
 * for the event loop; `cache` remembers the count of a message object already counted.
 */
export async function countMessages(
  messages: readonly unknown[],
  model: string,
  cache?: WeakMap<object, number>,
): Promise<number[]> {
  const encoding = await encodingFor(model)
  const slicer = new Slicer()
  const counts: number[] = []
  for (const message of messages) {
    if (typeof message !== 'object' || message === null) {
      counts.push(0)
      continue
    }

    let count = cache?.get(message)
    if (count === undefined) {
      const m = message as {role?: unknown; content?: unknown; name?: unknown; tool_calls?: unknown}
      const calls = Array.isArray(m.tool_calls) ? JSON.stringify(m.tool_calls) : ''
      count =
        3 +
        (await countYielding(
          encoding,
          `${typeof m.role === 'string' ? m.role : ''}${contentText(m.content)}${calls}`,
          slicer,
        )) +
        (typeof m.name === 'string' ? 1 : 0)
      cache?.set(message, count)
    }

    counts.push(count)
    await slicer.tick()
  }

  return counts
}
