import { getEventListeners } from 'node:events'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { describe, expect, it } from 'vitest'
import { captureNodeResponse, type NodeHandler, nodeOrigin } from '../src/capture.js'

const request = (signal = new AbortController().signal) => ({
  method: 'GET',
  url: '/x?y=1',
  host: 'h',
  headers: { host: 'h', accept: 'text/plain' },
  signal,
})

async function capture(handler: NodeHandler, signal?: AbortSignal) {
  const response = await captureNodeResponse(handler, request(signal))
  const chunks: Buffer[] = []
  for await (const chunk of response.body) chunks.push(Buffer.from(chunk))
  return { status: response.status, headers: response.headers, body: Buffer.concat(chunks).toString() }
}

describe('captureNodeResponse', () => {
  it('gives the handler a real request and captures setHeader + write + end', async () => {
    const got = await capture((req, res) => {
      res.setHeader('x-url', `${req.method} ${req.url} ${req.headers.accept}`)
      res.write('a')
      res.end(Buffer.from('b'))
    })
    expect(got).toEqual({ status: 200, headers: { 'x-url': 'GET /x?y=1 text/plain' }, body: 'ab' })
  })

  it('captures headers passed to writeHead as an object or as a raw array', async () => {
    const asObject = await capture((_req, res) => res.writeHead(201, { 'x-a': '1' }).end('o'))
    expect(asObject).toMatchObject({ status: 201, headers: { 'x-a': '1' }, body: 'o' })
    const asArray = await capture((_req, res) => {
      res.setHeader('x-b', '2')
      res.writeHead(202, ['x-c', '3', 'set-cookie', 'a=1', 'set-cookie', 'b=2'])
      res.end()
    })
    expect(asArray.status).toBe(202)
    expect(asArray.headers).toMatchObject({ 'x-b': '2', 'x-c': '3' })
  })

  it('takes a piped stream with backpressure', async () => {
    const big = 'z'.repeat(1024)
    const got = await capture((_req, res) => {
      void pipeline(Readable.from(Array.from({ length: 500 }, () => big)), res)
    })
    expect(got.body.length).toBe(500 * 1024)
  })

  it('rejects when the handler throws before answering, or its promise rejects', async () => {
    await expect(
      captureNodeResponse(() => {
        throw new Error('sync')
      }, request()),
    ).rejects.toThrow('sync')
    await expect(captureNodeResponse(async () => Promise.reject(new Error('async')), request())).rejects.toThrow(
      'async',
    )
  })

  it('rejects on abort (the origin timeout) when nothing was sent', async () => {
    const controller = new AbortController()
    const pending = captureNodeResponse(() => {}, request(controller.signal))
    controller.abort(new Error('too slow'))
    await expect(pending).rejects.toThrow('too slow')
  })

  it('fails the body when the handler breaks off mid-body', async () => {
    await expect(
      capture((_req, res) => {
        res.write('partial')
        setTimeout(() => res.destroy(), 10)
      }),
    ).rejects.toThrow(/closed the response/)
  })

  it('regression: lets go of the abort signal once the response is over (it held each response for originTimeout)', async () => {
    const signal = new AbortController().signal
    const origin = nodeOrigin((_req, res) => res.end('done'))
    for (let i = 0; i < 20; i++) {
      const response = await origin(request(signal))
      for await (const _ of response.body);
    }
    await expect(origin(request(signal))).resolves.toMatchObject({ status: 200 })
    const failing = nodeOrigin(() => {
      throw new Error('no')
    })
    await expect(failing(request(signal))).rejects.toThrow('no')
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
  })
})
