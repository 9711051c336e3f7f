import type {ChatContentPart, ChatMessage, ChatToolCall} from '../chat/types.js'
import type {InputItem, InputPart, MessageItem, OutputPart} from './types.js'

/**
 * Kept Responses items → chat messages. Function and custom tool calls become assistant
 * `tool_calls` (consecutive calls, and calls right after the assistant's text, join one
 * assistant message, as a chat model produced them); a custom tool's free-form input travels
 * as the one string parameter `input` of a function. Tool outputs become `tool` messages.
 * Reasoning items carry nothing a chat upstream can read (their content is encrypted for the
 * model that made them), so they are left out.
 */

const textOf = (parts: ReadonlyArray<InputPart | OutputPart>) =>
  parts.map((p) => (p.type === 'input_text' || p.type === 'output_text' ? p.text : '')).join('')

function chatPart(part: InputPart | OutputPart): ChatContentPart {
  if (part.type === 'input_image')
    return {type: 'image_url', image_url: {url: part.image_url ?? '', ...(part.detail && {detail: part.detail})}}
  return {type: 'text', text: part.type === 'input_text' || part.type === 'output_text' ? part.text : ''}
}

function messageToChat(item: MessageItem): ChatMessage {
  if (item.role === 'assistant') {
    const refusal = item.content.flatMap((p) => (p.type === 'refusal' ? [p.refusal] : [])).join('')
    return {role: 'assistant', content: textOf(item.content), ...(refusal && {refusal})}
  }

  const [only] = item.content
  // one text part is sent as a plain string: every chat upstream reads that form
  if (item.content.length === 1 && only.type === 'input_text') return {role: item.role, content: only.text}
  return {role: item.role, content: item.content.map((p) => chatPart(p))}
}

function addToolCall(messages: ChatMessage[], call: ChatToolCall): void {
  const last = messages.at(-1)
  if (last?.role === 'assistant') {
    if (last.content === '') last.content = null
    last.tool_calls = [...(last.tool_calls ?? []), call]
    return
  }

  messages.push({role: 'assistant', content: null, tool_calls: [call]})
}

const outputText = (output: string | InputPart[]) => (typeof output === 'string' ? output : textOf(output))

export function itemsToMessages(items: readonly InputItem[]): ChatMessage[] {
  const messages: ChatMessage[] = []
  for (const item of items) {
    switch (item.type) {
      case 'message':
        messages.push(messageToChat(item))
        break
      case 'function_call':
        addToolCall(messages, {
          id: item.call_id,
          type: 'function',
          function: {name: item.name, arguments: item.arguments},
        })
        break
      case 'custom_tool_call':
        addToolCall(messages, {
          id: item.call_id,
          type: 'function',
          function: {name: item.name, arguments: JSON.stringify({input: item.input})},
        })
        break
      case 'function_call_output':
      case 'custom_tool_call_output':
        messages.push({role: 'tool', tool_call_id: item.call_id, content: outputText(item.output)})
        break
      case 'reasoning':
        break
    }
  }

  return messages
}
