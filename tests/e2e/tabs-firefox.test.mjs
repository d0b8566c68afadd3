// Issue 13's tabs suite (tabs-suite.mjs) in Firefox.
import { tabsSuite } from "./tabs-suite.mjs";

tabsSuite("firefox");
