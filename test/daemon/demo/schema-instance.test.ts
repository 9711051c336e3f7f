import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import fc from 'fast-check'

import {instanceOf} from '../../../src/daemon/demo/schema-instance.js'
import {assertValid} from '../../helpers/json-schema.js'

/** Exact instance for each schema, and each instance valid against its schema. */
function expectInstance(schema: unknown, expected: unknown): void {
  const instance = instanceOf(schema)
  assert.deepEqual(instance, expected)
  assertValid(schema, instance)
}

describe('a minimal valid instance of a JSON schema', () => {
  it('objects carry their required properties only; enums give their first value', () => {
    const weather = {
      type: 'object',
      properties: {
        city: {type: 'string'},
        unit: {type: 'string', enum: ['celsius', 'fahrenheit']},
        days: {type: 'integer', minimum: 1, maximum: 7},
      },
      required: ['city', 'unit'],
      additionalProperties: false,
    }
    expectInstance(weather, {city: 'demo', unit: 'celsius'})
    expectInstance(
      {type: 'object', properties: {a: {type: 'boolean'}, b: {type: 'null'}}, minProperties: 2},
      {a: false, b: null},
    )
    expectInstance(
      {type: 'object', required: ['extra'], additionalProperties: {type: 'integer', minimum: 4}},
      {extra: 4},
    )
    expectInstance(
      {
        type: 'object',
        required: ['x-id'],
        patternProperties: {'^x-': {type: 'number', exclusiveMinimum: 0, maximum: 1}},
      },
      {'x-id': 0.5},
    )
  })

  it('nested objects, arrays with minItems, tuples, formats and const', () => {
    expectInstance(
      {
        type: 'object',
        required: ['tags', 'when', 'meta', 'pair', 'tuple'],
        properties: {
          tags: {type: 'array', items: {type: 'string', minLength: 6}, minItems: 2},
          when: {type: 'string', format: 'date-time'},
          meta: {
            type: 'object',
            required: ['ok', 'kind', 'id', 'mail'],
            properties: {
              ok: {type: 'boolean'},
              kind: {const: 'x'},
              id: {type: 'string', format: 'uuid'},
              mail: {type: 'string', format: 'email'},
            },
          },
          pair: {type: 'array', prefixItems: [{type: 'string', format: 'date'}, {type: 'integer'}], minItems: 2},
          tuple: {type: 'array', minItems: 1, contains: {type: 'string', format: 'uri'}},
        },
      },
      {
        tags: ['demooo', 'demooo'],
        when: '2024-01-01T00:00:00Z',
        meta: {ok: false, kind: 'x', id: '00000000-0000-4000-8000-000000000000', mail: 'demo@example.com'},
        pair: ['2024-01-01', 0],
        tuple: ['https://example.com/'],
      },
    )
  })

  it('anyOf and oneOf take the first branch (with the keywords beside them); allOf merges; null types come last', () => {
    expectInstance({anyOf: [{type: 'integer', minimum: 2}, {type: 'string'}]}, 2)
    expectInstance({oneOf: [{type: 'string', maxLength: 2}, {type: 'integer'}]}, 'de')
    expectInstance(
      {type: 'object', properties: {a: {type: 'string'}}, anyOf: [{required: ['a']}, {required: ['b']}]},
      {a: 'demo'},
    )
    expectInstance(
      {
        allOf: [
          {type: 'object', properties: {a: {type: 'string'}}, required: ['a']},
          {properties: {b: {type: 'integer'}}, required: ['b']},
        ],
      },
      {a: 'demo', b: 0},
    )
    expectInstance({type: ['null', 'string']}, 'demo')
    expectInstance({type: ['null']}, null)
    expectInstance({}, null)
  })

  it('follows local $refs, recursive ones included', () => {
    const tree = {
      $defs: {
        node: {
          type: 'object',
          properties: {name: {type: 'string'}, children: {type: 'array', items: {$ref: '#/$defs/node'}}},
          required: ['name', 'children'],
        },
      },
      $ref: '#/$defs/node',
    }
    expectInstance(tree, {name: 'demo', children: []})
    expectInstance(
      {
        definitions: {'a/b': {type: 'integer', minimum: 9}},
        type: 'object',
        required: ['n'],
        properties: {n: {$ref: '#/definitions/a~1b'}},
      },
      {n: 9},
    )
  })

  it('numbers: 0 moved inside the bounds, on a multipleOf step', () => {
    expectInstance({type: 'number', exclusiveMinimum: 0}, 1)
    expectInstance({type: 'integer', minimum: 3, multipleOf: 5}, 5)
    expectInstance({type: 'integer', exclusiveMinimum: 5, multipleOf: 5}, 10)
    expectInstance({type: 'integer', maximum: -2}, -2)
    expectInstance({type: 'number', minimum: -3, exclusiveMaximum: -1}, -2)
    expectInstance({type: 'integer', exclusiveMaximum: -2.5}, -3)
    // draft 4's boolean exclusiveMinimum (not a 2020-12 schema, so not run through ajv)
    assert.equal(instanceOf({type: 'integer', minimum: 10, exclusiveMinimum: true}), 11)
  })

  it('strings: a pattern matched by a plain candidate, lengths honoured', () => {
    expectInstance({type: 'string', pattern: '^[0-9]+$'}, '0')
    expectInstance({type: 'string', pattern: '^[A-Z]+$'}, 'A')
    expectInstance({type: 'string', pattern: '^[a-z]+$', minLength: 6}, 'demooo')
    expectInstance({type: 'string', maxLength: 0}, '')
  })

  it('a property named __proto__ is a property', () => {
    const instance = instanceOf({
      type: 'object',
      required: ['__proto__'],
      properties: {['__proto__']: {type: 'string'}},
    })
    assert.equal(JSON.stringify(instance), '{"__proto__":"demo"}')
  })

  it('any schema built from types, bounds, formats, enums, objects, arrays and anyOf gets a valid instance', () => {
    const format = fc.constantFrom(
      'date-time',
      'date',
      'time',
      'email',
      'uri',
      'uuid',
      'ipv4',
      'ipv6',
      'hostname',
      'duration',
    )
    const leaf = fc.oneof(
      fc.record(
        {type: fc.constant('string'), minLength: fc.nat(5), maxLength: fc.integer({min: 5, max: 9})},
        {requiredKeys: ['type']},
      ),
      fc.record({type: fc.constant('string'), format}),
      fc.record(
        {
          type: fc.constantFrom('integer', 'number'),
          minimum: fc.integer({min: -50, max: 50}),
          multipleOf: fc.integer({min: 1, max: 7}),
        },
        {requiredKeys: ['type']},
      ),
      fc.record({type: fc.constantFrom('number', 'integer'), exclusiveMaximum: fc.integer({min: -50, max: 50})}),
      fc.record(
        {
          type: fc.constantFrom('integer', 'number'),
          exclusiveMinimum: fc.integer({min: -50, max: 50}),
          multipleOf: fc.integer({min: 1, max: 7}),
        },
        {requiredKeys: ['type', 'exclusiveMinimum']},
      ),
      fc.record({type: fc.constant(['boolean', 'null'])}),
      fc.record({enum: fc.array(fc.jsonValue(), {minLength: 1, maxLength: 3})}),
      fc.record({const: fc.jsonValue()}),
    )
    const {schema} = fc.letrec<{schema: unknown}>((tie) => ({
      schema: fc.oneof({depthSize: 'small', withCrossShrink: true}, leaf, tie('object'), tie('array'), tie('anyOf')),
      object: fc.dictionary(fc.string({minLength: 1, maxLength: 6}), tie('schema'), {maxKeys: 4}).chain((properties) =>
        fc.record({
          type: fc.constant('object'),
          properties: fc.constant(properties),
          required: fc.subarray(Object.keys(properties)),
          additionalProperties: fc.constant(false),
        }),
      ),
      array: fc.record({type: fc.constant('array'), items: tie('schema'), minItems: fc.nat(3)}),
      anyOf: fc.record({anyOf: fc.array(tie('schema'), {minLength: 1, maxLength: 3})}),
    }))
    fc.assert(
      fc.property(schema, (s) => assertValid(s, instanceOf(s), 'instance')),
      {numRuns: 300},
    )
  })
})
