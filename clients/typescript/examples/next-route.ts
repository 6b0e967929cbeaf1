/**
 * app/api/trpc/[trpc]/route.ts in the Next.js app: the auth router behind
 * tRPC's fetch adapter, the browser's cookie in, sesame's Set-Cookie out.
 */
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";

import { authRouter } from "./trpc-auth-router.js";

const router = authRouter("http://sesame.internal:3000");

function handler(request: Request): Promise<Response> {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: request,
    router,
    createContext: ({ resHeaders }) => ({
      cookie: request.headers.get("cookie"),
      clientIp: request.headers.get("x-forwarded-for"),
      setCookie: (value: string) => resHeaders.append("set-cookie", value),
    }),
  });
}

export { handler as GET, handler as POST };
