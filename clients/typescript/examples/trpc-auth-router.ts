/**
 * The migration plan's auth router (tRPC in a Next.js app) calling sesame:
 * register and logout pass the browser's cookie to sesame and sesame's
 * `Set-Cookie` back to the browser, so the session cookie stays sesame's
 * (HttpOnly) and the app never holds a token.
 *
 * Serve sesame on the app's own site (a path or subdomain the browser sends
 * the cookie to), and list the app server in SESAME__HTTP__TRUSTED_PROXIES so
 * that sesame sees the user's address in the X-Forwarded-For it sends.
 */
import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";

import { createSesameClient, type Problem, type User } from "../src/index.js";

/** What each request's procedures see: the browser's cookie, a way to set one, its address. */
export interface Context {
  cookie: string | null;
  clientIp: string | null;
  setCookie: (value: string) => void;
}

const t = initTRPC.context<Context>().create();

/** The router, over the sesame service at `sesameUrl`. */
export function authRouter(sesameUrl: string) {
  const sesame = createSesameClient(sesameUrl);

  /** The headers that carry the user's session and address to sesame. */
  const forwarded = (ctx: Context): Record<string, string> => {
    const headers: Record<string, string> = {};
    if (ctx.cookie) headers["cookie"] = ctx.cookie;
    if (ctx.clientIp) headers["x-forwarded-for"] = ctx.clientIp;
    return headers;
  };

  /** Hands sesame's Set-Cookie (a new session, or an expired one) to the browser. */
  const passCookieBack = (response: Response, ctx: Context): void => {
    const cookie = response.headers.get("set-cookie");
    if (cookie) ctx.setCookie(cookie);
  };

  return t.router({
    register: t.procedure
      .input(z.object({ email: z.string(), password: z.string() }))
      .mutation(async ({ input, ctx }): Promise<User> => {
        const { data, error, response } = await sesame.POST("/api/auth/register", {
          body: input,
          headers: forwarded(ctx),
        });
        passCookieBack(response, ctx);
        if (error) throw refused(response.status, error);
        return data.user;
      }),

    logout: t.procedure.mutation(async ({ ctx }): Promise<void> => {
      const { error, response } = await sesame.POST("/api/auth/logout", { headers: forwarded(ctx) });
      passCookieBack(response, ctx);
      if (error) throw refused(response.status, error);
    }),
  });
}

/** sesame's problem as a tRPC error, its code kept for the front end. */
function refused(status: number, problem: Problem): TRPCError {
  const code =
    status === 409
      ? "CONFLICT"
      : status === 422 || status === 400
        ? "BAD_REQUEST"
        : status === 429
          ? "TOO_MANY_REQUESTS"
          : status === 401
            ? "UNAUTHORIZED"
            : status === 403
              ? "FORBIDDEN"
              : "INTERNAL_SERVER_ERROR";
  return new TRPCError({ code, message: problem.detail, cause: problem });
}

export type AuthRouter = ReturnType<typeof authRouter>;
