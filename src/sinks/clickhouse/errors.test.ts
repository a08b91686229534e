import { ClickHouseError } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { classifyError, serverCodeOf } from './errors.js';

describe('classifyError', () => {
  it('treats a refused or reset connection as retriable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
    expect(classifyError(refused)).toEqual({ kind: 'retriable', reason: 'network' });
    expect(classifyError(new Error('socket hang up')).kind).toBe('retriable');
    expect(classifyError(Object.assign(new Error('x'), { cause: { code: 'ECONNRESET' } })).reason).toBe('network');
  });

  it('treats a client timeout as retriable', () => {
    expect(classifyError(new Error('Timeout error.'))).toEqual({ kind: 'retriable', reason: 'timeout' });
  });

  it('reads the exception code from an 18.16 message the client could not parse', () => {
    const err = new Error('Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected " before: bad, e.what() = DB::Exception\n');
    expect(serverCodeOf(err)).toBe(27);
    expect(classifyError(err)).toEqual({ kind: 'permanent', reason: 'data', serverCode: 27 });
  });

  it('uses the code of a parsed ClickHouseError', () => {
    const typeMismatch = new ClickHouseError({ message: 'Type mismatch', code: '53', type: 'TYPE_MISMATCH' });
    expect(classifyError(typeMismatch).kind).toBe('permanent');
    const memory = new ClickHouseError({ message: 'Memory limit exceeded', code: '241', type: 'MEMORY_LIMIT_EXCEEDED' });
    expect(classifyError(memory)).toEqual({ kind: 'retriable', reason: 'server', serverCode: 241 });
  });

  it('keeps unknown tables and failed authentication retriable: a config or schema fix brings the data in', () => {
    expect(classifyError(new Error('Code: 60, e.displayText() = DB::Exception: Table egressd.incidents doesn\'t exist.')).kind).toBe('retriable');
    expect(classifyError(new Error('Code: 193, e.displayText() = DB::Exception: Wrong password for user egressd')).kind).toBe('retriable');
  });

  it('treats an HTTP 4xx without a server code as permanent, except 408 and 429', () => {
    expect(classifyError(Object.assign(new Error('bad request'), { statusCode: 400 })).kind).toBe('permanent');
    expect(classifyError(Object.assign(new Error('slow down'), { statusCode: 429 })).kind).toBe('retriable');
  });

  it('defaults to retriable for anything unrecognised', () => {
    expect(classifyError('weird')).toEqual({ kind: 'retriable', reason: 'unknown' });
    expect(classifyError(undefined).kind).toBe('retriable');
  });
});
