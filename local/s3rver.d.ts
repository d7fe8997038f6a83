// s3rver ships no type declarations; local-s3.ts types the small surface it uses.
declare module 's3rver' {
  const S3rver: unknown;
  export default S3rver;
}
