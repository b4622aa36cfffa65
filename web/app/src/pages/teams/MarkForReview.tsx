// Super admins mark an account for four-eyes review; unmarking asks a second super admin.
import { useMutation } from 'urql';
import { graphql } from '../../../../generated/gql';
import { ErrorText } from '../../ui';
import type { Owner } from './fields';

const AskUnmarkDoc = graphql(`
  mutation AskToUnmark($userId: ID!, $reason: String!) {
    requestReviewRequirementChange(userId: $userId, reason: $reason) { id status }
  }
`);
const MarkDoc = graphql(`
  mutation MarkForReview($userId: ID!, $required: Boolean!) {
    setImpersonationReviewRequired(userId: $userId, required: $required) { id impersonationReviewRequired }
  }
`);

/** Super admins: the account needs a second admin's review for sessions that can change it.
 *  Marking is one super admin's; unmarking asks a second super admin, who decides. */
export function MarkForReview({ owner }: { owner: Owner }) {
  const [marked, mark] = useMutation(MarkDoc);
  const [asked, ask] = useMutation(AskUnmarkDoc);
  return (
    <label className="check mark" data-testid="mark-review">
      <input
        type="checkbox"
        checked={owner.impersonationReviewRequired}
        disabled={marked.fetching || asked.fetching}
        onChange={async (e) => {
          if (e.target.checked) {
            await mark({ userId: owner.id, required: true });
            return;
          }
          const reason = window.prompt('Why should this account no longer need a review? A second super admin decides.');
          if (reason && reason.trim()) await ask({ userId: owner.id, reason: reason.trim() });
        }}
      />
      Needs a second admin's review
      {asked.data && <span role="status"> Asked a second super admin to approve unmarking it.</span>}
      <ErrorText error={marked.error ?? asked.error} />
    </label>
  );
}
