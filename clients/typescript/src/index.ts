/**
 * A typed client for sesame's HTTP API. `paths` and `components` are generated
 * from docs/openapi.json (`npm run generate`); `npm run check` fails when the
 * generated file is stale or a call no longer type-checks.
 *
 * In a browser, the session cookie travels by itself (`credentials: "include"`).
 * On a server that calls sesame for its users (a Next.js route, a tRPC
 * procedure), pass the user's `Cookie` header on and hand sesame's
 * `Set-Cookie` back: see examples/.
 */
import createClient, { type Client } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, paths };

/** A user, as sesame shows one. */
export type User = components["schemas"]["UserBody"];
/** A session, as sesame shows one to its owner. */
export type Session = components["schemas"]["SessionBody"];
/** An error answer (RFC 9457), with its stable `code`. */
export type Problem = components["schemas"]["Problem"];
/** Every stable problem code. */
export type ProblemCode = components["schemas"]["ProblemCode"];

/** A client for the sesame service at `baseUrl` (`https://auth.example.com`). */
export function createSesameClient(baseUrl: string, fetch: typeof globalThis.fetch = globalThis.fetch): Client<paths> {
  return createClient<paths>({ baseUrl, credentials: "include", fetch });
}

/** Whether `value` is a sesame problem with this `code`. */
export function isProblem(value: unknown, code?: ProblemCode): value is Problem {
  if (typeof value !== "object" || value === null || !("code" in value)) {
    return false;
  }
  return code === undefined || (value as Problem).code === code;
}
