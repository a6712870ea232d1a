/**
 * The Node side of the dashboard: its security headers, SSE clients fed by
 * the shared producer, and the HTTP server of `Dashboard.layer`, which answers
 * the two routes every open page hits before Effect's router sees them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"

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
 * A Node server that answers the two routes every open page hits, `/events`
 * and `/api/summary`, straight from the producer before Effect's router sees
 * the request; everything else goes to the app. 200 pages connecting at once
 * then cost what they cost plain Node ("Dashboard under load" in
 * `docs/performance.md`).
 */
const nodeServer = (producer: Producer.Producer): Server => {
  const server = createServer()
  const emit = server.emit
  const fast = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "GET" || req.url === undefined) return false
    const path = req.url.split("?", 1)[0]
    if (path === "/events") {
      res.writeHead(200, { ...SECURITY_HEADERS, ...SSE_HEADERS })
      subscribe(producer, res)
      return true
    }
    if (path === "/api/summary") {
      const frame = producer.unsafeCurrent()
      if (frame === undefined) return false
      const body = frame._tag === "Snapshot" ? frame.summaryJson : JSON.stringify({ error: frame.message })
      res.writeHead(frame._tag === "Snapshot" ? 200 : 500, { ...SECURITY_HEADERS, "content-type": "application/json" })
      res.end(body)
      return true
    }
    return false
  }
  server.emit = function(this: Server, event: string, ...args: Array<any>) {
    if (event === "request" && fast(args[0], args[1])) return true
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>)
  } as typeof server.emit
  // closing (the layer's scope, SIGTERM in the CLI) ends the streams that would hold it open
  const close = server.close
  server.close = function(this: Server, callback?: (err?: Error) => void) {
    endClients(producer)
    const result = close.call(this, callback)
    this.closeIdleConnections()
    return result
  } as typeof server.close
  return server
}

/** the Node HTTP server layer with the fast path in front of the app */
export const serverLayer = (producer: Producer.Producer, options: { readonly port: number; readonly host: string }) =>
  NodeHttpServer.layer(() => nodeServer(producer), options)
