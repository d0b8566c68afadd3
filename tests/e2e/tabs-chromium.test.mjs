// Issue 13's tabs suite (tabs-suite.mjs) in Chromium.
import { tabsSuite } from "./tabs-suite.mjs";

tabsSuite("chromium");
