/**
 * The per-account model catalog of `GET /backend-api/codex/models?client_version=…`: `{"models":
 * [...]}` with the fields of openai/codex codex-rs/models-manager/models.json (the long
 * `model_messages` prompt templates left out). Late-2026 slugs; contexts other than gpt-5.6-sol's
 * 372000 are illustrative.
 */

export type ReasoningLevel = {effort: string; description: string}

export type CodexModel = {
  slug: string
  display_name: string
  description: string
  context_window: number
  max_context_window: number
  default_reasoning_level: string
  supported_reasoning_levels: ReasoningLevel[]
  supported_in_api: boolean
  /** 'list' (shown in pickers) or 'hide' (served but not listed in the UI). */
  visibility: 'list' | 'hide'
  minimal_client_version: string
  priority: number
  [extra: string]: unknown
}

const LEVELS: Record<string, string> = {
  low: 'Fast responses with lighter reasoning',
  medium: 'Balances speed and reasoning depth for everyday tasks',
  high: 'Greater reasoning depth for complex problems',
  xhigh: 'Extra high reasoning depth for complex problems',
  max: 'Maximum reasoning depth for the hardest problems',
  // Listed by the real bundle although it is a UI mode rather than an API effort.
  ultra: 'Maximum reasoning with automatic task delegation',
}

/** A catalog entry with the usual fields filled in. */
export function codexModel(slug: string, fields: Partial<CodexModel> & {efforts?: string[]} = {}): CodexModel {
  const {efforts = ['low', 'medium', 'high', 'xhigh'], ...rest} = fields
  return {
    slug,
    display_name: slug,
    description: `${slug} (fake catalog entry)`,
    context_window: 272_000,
    max_context_window: 272_000,
    default_reasoning_level: 'medium',
    supported_reasoning_levels: efforts.map((effort) => ({effort, description: LEVELS[effort] ?? effort})),
    supported_in_api: true,
    visibility: 'list',
    minimal_client_version: '0.98.0',
    priority: 10,
    shell_type: 'shell_command',
    input_modalities: ['text', 'image'],
    supports_parallel_tool_calls: true,
    support_verbosity: true,
    default_verbosity: 'low',
    default_reasoning_summary: 'none',
    reasoning_summary_format: 'experimental',
    truncation_policy: {mode: 'tokens', limit: 10_000},
    prefer_websockets: true,
    ...rest,
  }
}

export const CODEX_MODELS: readonly CodexModel[] = [
  codexModel('gpt-5.6-sol', {
    display_name: 'GPT-5.6-Sol',
    description: 'Latest frontier agentic coding model.',
    context_window: 372_000,
    max_context_window: 372_000,
    default_reasoning_level: 'low',
    efforts: ['low', 'medium', 'high', 'xhigh', 'max', 'ultra'],
    minimal_client_version: '0.142.2',
    priority: 1,
  }),
  codexModel('gpt-5.5', {display_name: 'GPT-5.5', priority: 2}),
  codexModel('gpt-5.4-mini', {display_name: 'GPT-5.4-Mini', efforts: ['low', 'medium', 'high'], priority: 3}),
  codexModel('gpt-5.3-codex', {display_name: 'GPT-5.3-Codex', visibility: 'hide', priority: 20}),
]
