declare module "cluster-key-slot" {
  /** The Cluster hash slot (0-16383) of a key, honouring {hash tags}; bytes as given. */
  function calculateSlot(key: string | Buffer): number;
  export default calculateSlot;
}
