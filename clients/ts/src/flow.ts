// Drives a running development server through the client generated from
// api/openapi.yaml: register, verify, log in, list and create projects,
// refresh, log out. Any answer that the document does not describe fails
// here, at type-check time (tsc) or at run time.
//   APISEC_URL  the server, e.g. http://127.0.0.1:8080
//   APISEC_BIN  its binary, run in the current directory to promote the user
import { execFileSync } from "node:child_process";
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

type TokenPair = components["schemas"]["TokenPair"];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

const api = createClient<paths>({ baseUrl: env("APISEC_URL") });
let access = "";
const bearer: Middleware = {
  onRequest({ request }) {
    if (access) request.headers.set("Authorization", `Bearer ${access}`);
    return request;
  },
};
api.use(bearer);

async function waitUntilServing(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      const { data } = await api.GET("/healthz");
      if (data?.status === "ok") return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the server did not come up");
}

async function login(email: string, password: string): Promise<TokenPair> {
  const { data, error, response } = await api.POST("/auth/login", { body: { email, password } });
  check(data && response.status === 200, `POST /auth/login: ${response.status} ${error?.error ?? ""}`);
  check(data.tokenType === "Bearer" && data.expiresIn > 0, "the pair is a Bearer token that expires");
  access = data.accessToken;
  return data;
}

await waitUntilServing();
const email = `ts-client-${Date.now()}@example.com`;
const password = "Correct-Horse-42";

const reg = await api.POST("/auth/register", { body: { email, password } });
check(reg.data && reg.response.status === 201, `POST /auth/register: ${reg.response.status} ${reg.error?.error ?? ""}`);
check(reg.data.user.role === "viewer" && !reg.data.user.emailVerified, "a new account is an unverified viewer");
const verificationToken = reg.data.verificationToken;
check(verificationToken, "development answers the verification token");

const early = await api.POST("/auth/login", { body: { email, password } });
check(early.error?.error === "Email not verified", "login before verification: Email not verified");

const ver = await api.GET("/auth/verify", { params: { query: { token: verificationToken } } });
check(ver.response.status === 200 && ver.data?.message, "GET /auth/verify");

await login(email, password);
const me = await api.GET("/auth/me");
check(me.data?.user.email === email && me.data.user.emailVerified, "GET /auth/me: verified");

const empty = await api.GET("/projects", { params: { query: { limit: 10 } } });
check(empty.data && Array.isArray(empty.data.projects), "a viewer lists projects");
check(empty.data.nextCursor === null, "one page only: nextCursor is null");
const denied = await api.POST("/projects", { body: { name: "Not mine to make" } });
check(denied.response.status === 403 && denied.error?.error === "Insufficient permissions", "a viewer cannot create");

// An operator makes the user an editor; that revokes the user's sessions.
execFileSync(env("APISEC_BIN"), ["users", "set-role", "--email", email, "--role", "editor"], { stdio: "inherit" });
let pair = await login(email, password);

const made = await api.POST("/projects", { body: { name: "Apollo", description: "Made by the typed client" } });
check(made.data && made.response.status === 201, `POST /projects: ${made.response.status} ${made.error?.error ?? ""}`);
const project = made.data.project;
check(project.name === "Apollo" && project.ownerId === me.data.user.id, "the editor owns the new project");

const listed = await api.GET("/projects");
check(listed.data?.projects.some((p) => p.id === project.id), "the new project is listed");

const refreshed = await api.POST("/auth/refresh", { body: { refreshToken: pair.refreshToken } });
check(refreshed.data && refreshed.data.refreshToken !== pair.refreshToken, "POST /auth/refresh: a new pair");
pair = refreshed.data;
access = pair.accessToken;
check((await api.GET("/auth/me")).data?.user.role === "editor", "the refreshed access token works");

const out = await api.POST("/auth/logout", { body: { refreshToken: pair.refreshToken } });
check(out.response.status === 204, "POST /auth/logout: 204");
const spent = await api.POST("/auth/refresh", { body: { refreshToken: pair.refreshToken } });
check(spent.response.status === 401 && spent.error?.error === "Invalid refresh token", "a logged-out refresh token is refused");
console.log("typed client flow: all checks passed");
