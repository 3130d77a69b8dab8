// bench.py's graphql-yoga peer: the hub's era list query (`era { integrationPoints(first:) {
// edges { node {...} } nodes pageInfo totalCount } }`) over integration points held in memory.
// Usage: node yoga.mjs DATA.json HOST; prints "listening on HOST:PORT" once it serves /graphql.
// DATA.json is what the hub's REST API lists (snake_case); it is turned into the GraphQL field
// names once at start, as a service holding its rows in memory would keep them.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";

const [dataPath, host = "127.0.0.1"] = process.argv.slice(2);
const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const toFields = (value) =>
  value && typeof value === "object" && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), toFields(v)]))
    : value;
const points = JSON.parse(readFileSync(dataPath, "utf8")).map(toFields);
const cursor = (offset) => Buffer.from(`offset:${offset}`).toString("base64url");

const typeDefs = /* GraphQL */ `
  type EraExt { ct: String! lwt: String! }
  type EraOpts { title: String! comment: String! allowFilesApi: Boolean! issync: Boolean! }
  type EraIntegrationPoint {
    id: ID! code: String! type: String! tokenLocal: String! tokenRemote: String!
    tokenRemote2: String! url: String! recvSvcscriptcode: String! recvSvcscriptcodeWs: String!
    sendSvcscriptcode: String! sendSvcscriptcodeWs: String! opts: EraOpts! ext: EraExt!
  }
  type EraIntegrationPointEdge { cursor: String! node: EraIntegrationPoint! }
  type PageInfo {
    hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String
  }
  type EraIntegrationPointConnection {
    edges: [EraIntegrationPointEdge!]! nodes: [EraIntegrationPoint!]!
    pageInfo: PageInfo! totalCount: Int!
  }
  type EraQuery { integrationPoints(first: Int = null): EraIntegrationPointConnection! }
  type Query { era: EraQuery! }
`;

const resolvers = {
  Query: { era: () => ({}) },
  EraQuery: {
    integrationPoints: (_, { first }) => {
      const rows = points.slice(0, first ?? 100);
      const edges = rows.map((node, i) => ({ cursor: cursor(i), node }));
      return {
        edges,
        nodes: rows,
        totalCount: points.length,
        pageInfo: {
          hasNextPage: rows.length < points.length,
          hasPreviousPage: false,
          startCursor: edges.length ? edges[0].cursor : null,
          endCursor: edges.length ? edges[edges.length - 1].cursor : null,
        },
      };
    },
  },
};

const yoga = createYoga({ schema: createSchema({ typeDefs, resolvers }), logging: false });
const server = createServer(yoga);
server.listen(0, host, () => {
  const { address, port } = server.address();
  console.log(`listening on ${address}:${port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
