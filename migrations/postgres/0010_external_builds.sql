-- Who builds an app's images: 'portal' (a BuildKit Job per component) or
-- 'external' (the app's CI pushes them; the deploy engine waits for the tag).
ALTER TABLE apps ADD COLUMN build_mode TEXT NOT NULL DEFAULT 'portal';
