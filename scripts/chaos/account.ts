/** An account the chaos workload moves money between: its bank and its id. */
export interface Account {
  bank: string;
  id: string;
}
