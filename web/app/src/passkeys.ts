// Passkeys in the browser, through @simplewebauthn/browser: the server's options go to
// navigator.credentials.create()/get() as they are (base64url JSON), and the credential comes
// back as PublicKeyCredential.toJSON() does it. Also what STEP_UP_REQUIRED asks for.
import { startAuthentication, startRegistration } from '@simplewebauthn/browser';
import type { CombinedError } from 'urql';
import { getSession, post, type Tokens } from './session';

export type Purpose = 'SIGN_IN' | 'IMPERSONATE' | 'ELEVATE' | 'APPROVE_REVIEW' | 'ADD_FACTOR';
export type PasskeyResponse = { challengeId: string; credential: unknown };
export type StepUpInput = { code?: string | null; passkey?: PasskeyResponse | null };

type Challenge = { id: string; options: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

const START_AUTH = `mutation StartPasskeyAuthentication($purpose: PasskeyPurpose, $targetId: ID) {
  startPasskeyAuthentication(purpose: $purpose, targetId: $targetId) { id options }
}`;
const START_REGISTRATION = `mutation StartPasskeyRegistration($password: String!) { startPasskeyRegistrationWithPassword(password: $password) { id options } }`;
const FINISH_REGISTRATION = `mutation FinishPasskeyRegistration($name: String!, $password: String!, $response: PasskeyResponse!, $proof: StepUp) {
  finishPasskeyRegistration(name: $name, password: $password, response: $response, proof: $proof) { id name }
}`;
const AUTHENTICATE = `mutation AuthenticateWithPasskey($response: PasskeyResponse!) {
  authenticateWithPasskey(response: $response) { accessToken refreshToken expiresAt }
}`;

/** The browser said no (cancelled, timed out, no matching passkey): in words. */
function ceremonyError(e: unknown): Error {
  if (e instanceof Error && e.name === 'NotAllowedError')
    return new Error('The passkey was not used: it was cancelled, timed out, or is not on this device.');
  // Browsers refuse passkeys on an IP address: WebAuthn needs a domain name.
  if (e instanceof Error && (e.name === 'SecurityError' || /invalid domain/i.test(e.message)))
    return new Error(`Passkeys need a domain name, not an address: open this console at http://localhost:${location.port || '80'} instead of ${location.hostname}.`);
  return e instanceof Error ? e : new Error(String(e));
}

/** A fresh assertion of the signed-in person's passkey, for `purpose` (and, when given, on
 *  the customer `targetId` only). */
export async function passkeyAnswer(purpose: Purpose, targetId?: string): Promise<PasskeyResponse> {
  const token = getSession()?.accessToken;
  const d = await post<{ startPasskeyAuthentication: Challenge }>(START_AUTH, { purpose, targetId: targetId ?? null }, token);
  const c = d.startPasskeyAuthentication;
  try {
    const credential = await startAuthentication({ optionsJSON: c.options });
    return { challengeId: c.id, credential };
  } catch (e) {
    throw ceremonyError(e);
  }
}

/** The second sign-in step with a passkey: the new tokens. */
export async function signInWithPasskey(): Promise<Tokens> {
  const response = await passkeyAnswer('SIGN_IN');
  const d = await post<{ authenticateWithPasskey: Tokens }>(AUTHENTICATE, { response }, getSession()?.accessToken);
  return d.authenticateWithPasskey;
}

/** Creates a passkey on this device and keeps it on the server under `name`. An account that
 *  already has a second factor proves it afresh: `proof` (a new authenticator code, or an
 *  assertion of an existing passkey, taken first). */
export async function addPasskey(name: string, password: string, proof: StepUpInput | null): Promise<void> {
  const token = getSession()?.accessToken;
  // The password is checked before the device creates anything: a wrong one leaves no
  // orphan passkey behind.
  const d = await post<{ startPasskeyRegistrationWithPassword: Challenge }>(START_REGISTRATION, { password }, token);
  const c = d.startPasskeyRegistrationWithPassword;
  let credential: unknown;
  try {
    credential = await startRegistration({ optionsJSON: c.options });
  } catch (e) {
    throw ceremonyError(e);
  }
  await post(FINISH_REGISTRATION, { name, password, response: { challengeId: c.id, credential }, proof }, token);
}

/** The methods a STEP_UP_REQUIRED refusal accepts (`["PASSKEY"]` or `["PASSKEY", "TOTP"]`). */
export function stepUpMethods(error: CombinedError | undefined | null): string[] | null {
  const g = error?.graphQLErrors?.[0];
  if (g?.extensions?.code !== 'STEP_UP_REQUIRED') return null;
  return (g.extensions.methods as string[] | undefined) ?? ['PASSKEY'];
}
