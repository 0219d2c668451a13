/**
 * xDS entry points for the rest of Ursa: the type URLs we serve and the generated ADS messages/service.
 * The generated code lives in proto/gen/ (git-ignored; produced by `npm run build`, see proto/build.ts).
 */

/** `type_url` of the resources Ursa serves over ADS (also the xDS `TypeUrl` of a DiscoveryRequest). */
export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const LISTENER_TYPE_URL = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE_CONFIGURATION_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const CLUSTER_LOAD_ASSIGNMENT_TYPE_URL = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

export type XdsTypeUrl =
  | typeof CLUSTER_TYPE_URL
  | typeof LISTENER_TYPE_URL
  | typeof ROUTE_CONFIGURATION_TYPE_URL
  | typeof CLUSTER_LOAD_ASSIGNMENT_TYPE_URL
  | typeof SECRET_TYPE_URL;

export {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from '../gen/envoy/service/discovery/v3/discovery.js';
export {
  AggregatedDiscoveryServiceClient,
  AggregatedDiscoveryServiceService,
} from '../gen/envoy/service/discovery/v3/ads.js';
export type { AggregatedDiscoveryServiceServer } from '../gen/envoy/service/discovery/v3/ads.js';
export { Any } from '../gen/google/protobuf/any.js';
