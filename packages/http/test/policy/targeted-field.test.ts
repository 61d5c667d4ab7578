import { describe, expect, it } from 'vitest'
import { targetedDirectives } from '../../src/policy/targeted-field.js'

const cdn = ['cdn-cache-control']
const read = (value: string | string[]) => targetedDirectives({ 'cdn-cache-control': value }, cdn)

describe('targetedDirectives (RFC 9213)', () => {
  it('reads a Structured Field Dictionary into directives', () => {
    expect(read('max-age=600, no-transform, stale-if-error=30')).toEqual(
      new Map([
        ['max-age', '600'],
        ['no-transform', ''],
        ['stale-if-error', '30'],
      ]),
    )
    expect(read('private=?0, no-store')).toEqual(new Map([['no-store', '']]))
    expect(read('foo="bar, baz";x=1, max-age=1')?.get('foo')).toBe('bar, baz')
  })

  it('ignores the whole field when it is not a valid Dictionary or max-age is not an Integer', () => {
    for (const value of [
      'max-age =100',
      'max-age= 100',
      'MaX-aGe=3600',
      'max-age=10000, &&&&&',
      'max-age="10000"',
      'a,',
    ]) {
      expect(read(value), value).toBeUndefined()
    }
  })

  it('takes the first field of the list the response carries with a valid value', () => {
    const headers = { 'edge-cache-control': 'max-age=1', 'cdn-cache-control': 'max-age=2' }
    expect(targetedDirectives(headers, ['edge-cache-control', 'cdn-cache-control'])?.get('max-age')).toBe('1')
    expect(
      targetedDirectives({ ...headers, 'edge-cache-control': '"x"' }, ['edge-cache-control', 'cdn-cache-control'])?.get(
        'max-age',
      ),
    ).toBe('2')
    expect(targetedDirectives(headers, [])).toBeUndefined()
  })
})
