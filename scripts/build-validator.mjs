// Build step: compile the settings schema once into plain JavaScript (ajv standalone), so
// that reading the config — every command, the daemon's start — does not load and run ajv.
import {Ajv} from 'ajv'
import standaloneCode from 'ajv/dist/standalone/index.js'
import {writeFileSync} from 'node:fs'

import {SETTINGS_SCHEMA} from '../dist/core/config.js'

const ajv = new Ajv({allErrors: true, useDefaults: true, code: {source: true}})
const validate = ajv.compile({type: 'object', properties: SETTINGS_SCHEMA})
writeFileSync(new URL('../dist/core/settings-validator.cjs', import.meta.url), standaloneCode.default(ajv, validate))
