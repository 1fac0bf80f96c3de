export { ANALYZER, STOP_WORDS, MAX_TOKEN_CHARS, analyze, queryTerms, isKnownAnalyzer } from "./analyzer.ts";
