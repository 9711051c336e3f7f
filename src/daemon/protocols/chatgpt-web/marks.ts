/**
 * The marks ChatGPT web answers carry for its own renderer, removed from the text a client
 * gets. They can arrive split across events, so while the answer is still streaming a mark
 * that may still be arriving at the end is held back (`final` false); at the end it is
 * settled. Whatever is returned while streaming is always a prefix of what is returned at
 * the end, so deltas never need to be taken back.
 *
 * - `【3†source】`, `【12:0†来源】`: citations of browsing answers; removed.
 * - `\uE200kind\uE202arg…\uE201`: a group in private-use characters. `cite` groups (sources)
 *   and the other widgets (images, videos, products, forecasts…) are removed; an `entity`
 *   group (`["people","Ada Lovelace","mathematician"]`) is a name the web app links, so its
 *   name stays; a `url` group becomes a Markdown link.
 * - `\uE202turn0search0`: a bare source anchor; removed.
 * - `\uE203…\uE204`: a highlighted span; the span is answer text, only the two marks go.
 * - any other character of U+E200–U+E206 (`\uE206` and strays): removed.
 */

const CITATION = /【[^【】\n]{0,40}†[^【】\n]{0,40}】/g
/** the start of a citation that can still be completed, at the very end */
const TRAILING_CITATION = /【[^【】\n]{0,40}(?:†[^【】\n]{0,40})?$/
/** the longest group awaited while streaming; a longer or multi-line one is no group */
const GROUP_MAX = 1000
const GROUP = new RegExp(`\\uE200([^\\uE200\\uE201\\n]{0,${GROUP_MAX}})\\uE201`, 'g')
const ANCHOR = /\uE202turn\d+[a-z_]+\d+/g
/** an anchor, complete or not, at the very end: more of it (more digits) may follow */
const TRAILING_ANCHOR = /\uE202(?:t(?:u(?:r(?:n(?:\d+(?:[a-z_]+\d*)?)?)?)?)?)?$/
const PRIVATE = /[\uE200-\uE206]/g

function renderGroup(_match: string, body: string): string {
  const [kind = '', ...args] = body.split('\uE202')
  if (kind === 'entity' || kind === 'product_entity') return entityName(args.join('\uE202'))
  if (kind === 'url' && args.length >= 2 && /^https?:\/\/\S+$/.test(args[1])) return `[${args[0]}](${args[1]})`
  return ''
}

/** `["people","Ada Lovelace",…]` → `Ada Lovelace`; a bare name stays as it is. */
function entityName(arg: string): string {
  try {
    const parsed: unknown = JSON.parse(arg)
    if (Array.isArray(parsed)) {
      const name: unknown = parsed[1] ?? parsed[0]
      return typeof name === 'string' ? name : ''
    }

    return typeof parsed === 'string' ? parsed : ''
  } catch {
    return arg.replace(PRIVATE, '')
  }
}

/**
 * Where a group that may still be closed begins: the last `\uE200` with no `\uE201` after it
 * (within a group's length, on the same line). An earlier unclosed `\uE200` can never be
 * closed any more — a group holds no `\uE200` — so it is a stray mark, not a pending group.
 */
function pendingGroup(text: string): number {
  const at = text.lastIndexOf('\uE200')
  if (at === -1 || text.includes('\uE201', at) || text.length - at - 1 > GROUP_MAX || text.includes('\n', at))
    return text.length
  return at
}

/** Text without citation and entity marks; unless `final`, a mark that may still be arriving at the end is held back. */
export function stripCitations(text: string, final: boolean): string {
  let clean = text.replace(CITATION, '')
  // an unfinished group is held back while streaming, and is never answer text at the end
  clean = clean.slice(0, pendingGroup(clean)).replace(GROUP, renderGroup)
  const anchor = TRAILING_ANCHOR.exec(clean)?.index ?? clean.length
  // an unfinished `【…` is plain text after all at the end; while streaming it may still become a citation
  const citation = final ? clean.length : (TRAILING_CITATION.exec(clean)?.index ?? clean.length)
  return clean.slice(0, Math.min(anchor, citation)).replace(ANCHOR, '').replace(PRIVATE, '')
}
