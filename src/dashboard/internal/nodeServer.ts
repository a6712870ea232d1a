/**
 * The Node side of the dashboard: its security headers, SSE clients fed by
 * the shared producer, and the HTTP server of `Dashboard.layer`, which
 * answers the live routes with the router's own handlers and ends the SSE
 * clients when it closes.
 */
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse
} from "node:http"
import { Readable } from "node:stream"

import type * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"

import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"

import type * as Producer from "./snapshot.js"

/** every response: no third-party anything, no framing, no inline scripts or styles */
export const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
}

/** a client this far behind (its socket not draining) is dropped; its browser reconnects */
const MAX_BUFFERED = 4 * 1024 * 1024

export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
  // a stream ends only when the server stops: then its socket closes with it, and the
  // server's close does not wait for an idle keep-alive connection
  "connection": "close"
}

/** where an SSE client's frames go: the Node response, or a stream piped to it */
export type Out = NodeJS.WritableStream & { readonly writableLength: number; destroy(): void }

/** the SSE clients of each producer, ended when the server (or the app's scope) closes */
const clients = new WeakMap<Producer.Producer, Set<Out>>()

/** feeds an SSE client from the shared producer: one set entry per client, no fiber per client */
export const subscribe = (producer: Producer.Producer, out: Out) => {
  let open = clients.get(producer)
  if (open === undefined) clients.set(producer, open = new Set())
  const set = open
  set.add(out)
  const unsubscribe = producer.unsafeSubscribe((event) => {
    if (out.writableLength > MAX_BUFFERED) out.destroy()
    else out.write(event)
  })
  out.once("close", () => {
    set.delete(out)
    unsubscribe()
  })
}

/**
 * Ends every open SSE stream of the producer: their clients see the stream
 * end (a browser reconnects to whatever serves next), and a server closing
 * no longer waits for them.
 */
export const endClients = (producer: Producer.Producer): void => {
  const open = clients.get(producer)
  if (open === undefined) return
  clients.delete(producer)
  for (const out of open) out.end()
}

/**
 * The routes answered from the newest frame alone, by path: `Dashboard`'s
 * router serves them, and `Dashboard.layer`'s Node server calls the very same
 * function before the router sees the request (see `nodeServer`).
 */
export type LiveRoutes = ReadonlyMap<
  HttpRouter.PathInput,
  (frame: Producer.Frame) => HttpServerResponse.HttpServerResponse
>

/** adds the security headers: every response of the router, and of the live routes on the Node server */
export const secure = HttpServerResponse.setHeaders(SECURITY_HEADERS)

/** writes a response as `@effect/platform-node` does, for the bodies the live routes give */
const write = (res: ServerResponse, response: HttpServerResponse.HttpServerResponse): void => {
  res.writeHead(response.status, response.headers as OutgoingHttpHeaders)
  const body = response.body
  if (body._tag === "Uint8Array") res.end(body.body)
  else if (body._tag === "Raw" && body.body instanceof Readable) pipe(body.body, res)
  else res.end()
}

/** a stream body into the response (lighter than `pipeline`, which an SSE client per page pays for): ends with it, destroyed when the client goes */
const pipe = (source: Readable, res: ServerResponse) => {
  source.pipe(res)
  res.once("close", () => source.destroy())
}

/**
 * A Node server that answers the live routes (`/events`, `/api/summary`) once
 * the producer has a frame, with the router's own handlers but without an
 * Effect per request, so that 200 pages connecting at once cost what they cost
 * plain Node ("Dashboard under load" in `docs/performance.md`); every other
 * request, and these before the first frame, go to the app's router. Its
 * `close` (the layer's scope, SIGTERM in the CLI) first ends the producer's SSE
 * streams, which would otherwise hold it open, then its idle keep-alive
 * connections.
 */
const nodeServer = (producer: Producer.Producer, routes: LiveRoutes): Server => {
  const server = createServer()
  const answer = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "GET" || req.url === undefined) return false
    const respond = routes.get(req.url.split("?", 1)[0] as HttpRouter.PathInput)
    const frame = producer.unsafeCurrent()
    if (respond === undefined || frame === undefined) return false
    write(res, secure(respond(frame)))
    return true
  }
  const emit = server.emit
  server.emit = function(this: Server, event: string, ...args: Array<any>) {
    if (event === "request" && answer(args[0], args[1])) return true
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>)
  } as typeof server.emit
  const close = server.close
  server.close = function(this: Server, callback?: (err?: Error) => void) {
    endClients(producer)
    const result = close.call(this, callback)
    this.closeIdleConnections()
    return result
  } as typeof server.close
  return server
}

/** the Node HTTP server layer of `Dashboard.layer` */
export const serverLayer = (
  producer: Producer.Producer,
  routes: LiveRoutes,
  options: { readonly port: number; readonly host: string }
) => NodeHttpServer.layer(() => nodeServer(producer, routes), options)
