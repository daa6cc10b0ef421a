-- Placeholder so that migrations count 1, 2, 3, ... on the breachsend branch:
-- 0004 is reserved for the breach branch (incidents). At merge the integrator
-- drops this file in favour of breach's 0004 (breachsend's 0005 needs nothing
-- of it). It changes nothing.
SELECT 1;
