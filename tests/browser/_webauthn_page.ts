/**
 * The WebAuthn test page's script, bundled for Chromium: supabase-js on `globalThis`, for the test to drive
 * with `page.evaluate` as an app's code would call it.
 *
 * @module
 */
import { createClient } from "@supabase/supabase-js";

(globalThis as unknown as { createClient: typeof createClient }).createClient = createClient;
