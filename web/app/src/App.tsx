// The console's shell: the urql client of the current token, the token's refresh, sign-in and
// the 2FA step, then the layout every page shares (navigation, team switcher, notification
// bell, the impersonation banner) and the routes.
import { useEffect, useMemo, useState } from 'react';
import { Provider, useMutation, useQuery, useSubscription } from 'urql';
import { Link, Redirect, Route, Router, Switch } from 'wouter';
import { useHashLocation } from 'wouter/use-hash-location';
import { graphql } from '../../generated/gql';
import { makeClient } from './client';
import { MeDoc, isAdmin, type Me } from './me';
import { refresh, setSession, signOut, useSession, type Session } from './session';
import { Banner } from './Banner';
import { Bell } from './Bell';
import { ErrorText } from './ui';
import { SignIn, TwoFactorStep } from './pages/SignIn';
import { Teams } from './pages/Teams';
import { Work, BusinessPage, LeadPage } from './pages/Work';
import { Profile } from './pages/Profile';
import { SupportAccess } from './pages/SupportAccess';
import { Sessions, History, Audit } from './pages/Admin';
import { Webhooks } from './pages/Webhooks';
import { Reviews } from './pages/Reviews';


export function App() {
  const session = useSession();
  const token = session?.accessToken ?? null;
  const clients = useMemo(() => makeClient(token), [token]);
  useEffect(() => () => void clients.ws.dispose(), [clients]);
  useRefreshTimer(session);
  return (
    <Provider value={clients.client}>
      <Router hook={useHashLocation}>{session ? <Shell key={token} /> : <SignIn />}</Router>
    </Provider>
  );
}

/** Refreshes a minute before the access token expires (at once after a reload past it). */
function useRefreshTimer(session: Session | null) {
  useEffect(() => {
    if (!session?.refreshToken) return;
    const due = new Date(session.expiresAt).getTime() - Date.now() - 60_000;
    const t = setTimeout(() => void refresh(), Math.max(0, due));
    return () => clearTimeout(t);
  }, [session?.refreshToken, session?.expiresAt]);
}


function Shell() {
  const [{ data, error, fetching }] = useQuery({ query: MeDoc });
  const session = useSession();
  if (!data) {
    // A token still waiting for the second factor reads only sign-in's own fields of `me`.
    if (error?.graphQLErrors?.some((g) => g.extensions?.code === 'TWO_FACTOR_REQUIRED')) return <TwoFactorStep />;
    if (error && !fetching) return <main className="center"><ErrorText error={error} /></main>;
    return <main className="center" aria-busy="true">Loading…</main>;
  }
  const me = data.me;
  // The 2FA step is the customer's own sign-in: support inside their account passed its own.
  if (me.isTwoFactorEnabled && !me.isTwoFactorAuthenticated && !me.impersonatedBy) return <TwoFactorStep />;
  const impersonating = !!me.impersonatedBy;
  const admin = isAdmin(me) && !impersonating;
  const superAdmin = admin && me.role === 'SUPER_ADMIN';
  return (
    <div className={impersonating ? 'app impersonating' : 'app'}>
      <a className="skip" href="#main">Skip to content</a>
      {/* First on the page: on a phone it is the first thing seen, above the header. */}
      {impersonating && <Banner me={me} />}
      <header className="top">
        <div className="bar">
          <Link href="/" className="brand">CRM</Link>
          <nav aria-label="Main">
            {admin && <Link href="/teams">Teams</Link>}
            <Link href="/work">Businesses &amp; leads</Link>
            {!impersonating && <Link href="/support">Support access</Link>}
            {admin && <Link href="/admin/sessions">Sessions</Link>}
            {admin && <Link href="/admin/history">History</Link>}
            {admin && <Link href="/admin/reviews">Reviews</Link>}
            {superAdmin && <Link href="/admin/webhooks">Webhooks</Link>}
            <Link href="/admin/audit">Audit log</Link>
            <Link href="/profile">Profile</Link>
          </nav>
        </div>
        <div className="controls">
          <TeamSwitcher me={me} />
          {!impersonating && <Bell />}
          {admin && <AdminFeed />}
          <span className="who" data-testid="who">{me.name}</span>
          <SignOutButton impersonating={impersonating} />
        </div>
      </header>
      {session?.flash && <Flash text={session.flash} />}
      <main id="main" tabIndex={-1}>
        <Switch>
          <Route path="/teams">{admin ? <Teams /> : <Redirect to="/work" />}</Route>
          <Route path="/work"><Work /></Route>
          <Route path="/business/:id">{(p) => <BusinessPage id={p.id} />}</Route>
          <Route path="/lead/:id">{(p) => <LeadPage id={p.id} />}</Route>
          <Route path="/profile"><Profile me={me} /></Route>
          <Route path="/support">{impersonating ? <Redirect to="/work" /> : <SupportAccess />}</Route>
          <Route path="/admin/sessions">{admin ? <Sessions me={me} /> : <Redirect to="/work" />}</Route>
          <Route path="/admin/history">{admin ? <History /> : <Redirect to="/work" />}</Route>
          <Route path="/admin/audit"><Audit admin={admin} /></Route>
          <Route path="/admin/reviews">{admin ? <Reviews me={me} /> : <Redirect to="/work" />}</Route>
          <Route path="/admin/webhooks">{superAdmin ? <Webhooks /> : <Redirect to="/work" />}</Route>
          <Route><Redirect to={admin ? '/teams' : '/work'} /></Route>
        </Switch>
      </main>
    </div>
  );
}

function Flash({ text }: { text: string }) {
  const session = useSession();
  return (
    <div className="flash" role="status">
      {text}
      <button type="button" className="link" onClick={() => session && setSession({ ...session, flash: null })}>
        Dismiss
      </button>
    </div>
  );
}

const AdminFeedDoc = graphql(`
  subscription AdminFeed { impersonationEvents { kind at } }
`);

/** Admins' pages stay true without a reload: every session started or ended, review decided
 *  and window a customer opened makes the cached lists stale (`cache.ts`). */
function AdminFeed() {
  useSubscription({ query: AdminFeedDoc });
  return null;
}

const SwitchTeamDoc = graphql(`
  mutation SwitchTeam($teamId: ID!) {
    switchTeam(teamId: $teamId) { accessToken refreshToken expiresAt }
  }
`);
const CreateTeamDoc = graphql(`
  mutation CreateTeam($name: String!) {
    createTeam(name: $name) { id name }
  }
`);

/** The team switcher. While impersonating both controls are disabled, and say why. */
function TeamSwitcher({ me }: { me: Me }) {
  const impersonating = !!me.impersonatedBy;
  const [switched, switchTeam] = useMutation(SwitchTeamDoc);
  const [created, createTeam] = useMutation(CreateTeamDoc);
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState('');
  const why = `Team switching and new teams are off while you act as ${me.name}: the session stays in the team it was started in. Stop, then start a session from the other team's row.`;
  const onSwitch = async (teamId: string) => {
    const r = await switchTeam({ teamId });
    if (r.data) setSession({ ...r.data.switchTeam });
  };
  return (
    <div className="teams" title={impersonating ? why : undefined}>
      <label>
        <span className="label" aria-hidden="true">Team</span>
        <select
          aria-label="Team"
          value={me.currentTeam?.id ?? ''}
          disabled={impersonating}
          aria-describedby={impersonating ? 'team-why' : undefined}
          onChange={(e) => void onSwitch(e.target.value)}
        >
          {me.teams.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
        </select>
      </label>
      {naming ? (
        <form
          className="inline"
          onSubmit={async (e) => {
            e.preventDefault();
            const r = await createTeam({ name });
            if (r.data) { setNaming(false); setName(''); }
          }}
        >
          <label><span className="sr-only">New team name</span>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="Team name" required />
          </label>
          <button type="submit">Create</button>
        </form>
      ) : (
        <button type="button" disabled={impersonating} aria-describedby={impersonating ? 'team-why' : undefined} onClick={() => setNaming(true)}>
          New team
        </button>
      )}
      {impersonating && <span id="team-why" className="hint" role="note">{why}</span>}
      <ErrorText error={switched.error ?? created.error} />
    </div>
  );
}

const CancelDoc = graphql(`
  mutation SignOutCancel { cancelImpersonation { refreshToken } }
`);

function SignOutButton({ impersonating }: { impersonating: boolean }) {
  const [, cancel] = useMutation(CancelDoc);
  return (
    <button
      type="button"
      onClick={async () => {
        // While impersonating: end the session on record first; its new tokens are revoked too.
        const ended = impersonating ? await cancel({}) : null;
        await signOut(ended?.data?.cancelImpersonation.refreshToken);
      }}
    >
      {impersonating ? 'Stop and sign out' : 'Sign out'}
    </button>
  );
}
