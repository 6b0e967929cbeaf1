-- An operator can disable an account (`sesame users disable`): it cannot log
-- in, and its sessions were ended when it was disabled.
ALTER TABLE users ADD COLUMN is_disabled boolean NOT NULL DEFAULT false;
