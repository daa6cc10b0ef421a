-- Placeholder so that migrations count 1, 2, 3, ... on the perfintake branch:
-- 0006 is reserved for the retention-records branch. At merge the integrator
-- drops this file in favour of that 0006 (perfintake's 0007, the mail spool,
-- needs nothing of it). It changes nothing.
SELECT 1;
