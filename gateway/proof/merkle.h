// Merkle batch trees as in RFC 9162 (Certificate Transparency v2), section
// 2.1: the hash of a leaf is SHA-256(0x00 || data), of an inner node
// SHA-256(0x01 || left || right), and the tree over n > 1 leaves is split at
// the largest power of two below n. One signature over the root of a batch
// then covers every leaf, and one leaf with its inclusion path proves alone
// that it was in the batch:
//
//   std::vector<std::string> leaves;
//   for (const std::string& header : headers) leaves.push_back(LeafHash(header));
//   const std::string root = MerkleRoot(leaves);
//   std::vector<std::string> path = InclusionPath(leaves, 2);
//   // Anyone holding headers[2], 2, leaves.size() and path finds the root:
//   absl::StatusOr<std::string> same = RootFromInclusionPath(leaves[2], 2, leaves.size(), path);
//
// Every function here is pure and thread-safe.
#ifndef IICC_GATEWAY_PROOF_MERKLE_H_
#define IICC_GATEWAY_PROOF_MERKLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace iicc::proof {

// The size of every hash in a tree: leaf hashes, node hashes, the root.
inline constexpr size_t kMerkleHashSize = 32;

// The leaf hash of `data`: SHA-256(0x00 || data), 32 bytes.
std::string LeafHash(absl::string_view data);

// The root (RFC 9162 MTH) of the tree over `leaf_hashes`, 32 bytes; for one
// leaf, the leaf hash itself.
// REQUIRES: !leaf_hashes.empty(). (Given none, it returns SHA-256 of the
// empty string, the RFC's MTH({}), which no batch produces.)
std::string MerkleRoot(const std::vector<std::string>& leaf_hashes);

// The inclusion path (RFC 9162 PATH, section 2.1.3.1) of leaf `index`: the
// sibling hashes from the leaf up to the root, nearest first; empty for a
// tree of one leaf.
// REQUIRES: index < leaf_hashes.size(); otherwise the path is empty.
std::vector<std::string> InclusionPath(const std::vector<std::string>& leaf_hashes, size_t index);

// A whole tree at once: its root and the inclusion path of every leaf, in
// leaf order. Equal to MerkleRoot() and InclusionPath() for each index, in
// O(n log n) rather than O(n^2) for all n paths.
// REQUIRES: !leaf_hashes.empty().
struct MerkleTree {
  std::string root;
  std::vector<std::vector<std::string>> paths;
};
MerkleTree BuildMerkleTree(const std::vector<std::string>& leaf_hashes);

// The root of the tree of `count` leaves in which `leaf_hash` is leaf
// `index` with inclusion path `path`: the verification algorithm of RFC 9162
// section 2.1.3.2. The caller compares the result with a root it trusts.
// INVALID_ARGUMENT if index >= count, if `path` is not exactly as long as
// the tree is deep at `index`, or if `leaf_hash` or an entry of `path` is not
// 32 bytes.
absl::StatusOr<std::string> RootFromInclusionPath(absl::string_view leaf_hash, uint64_t index, uint64_t count,
                                                  const std::vector<std::string>& path);

}  // namespace iicc::proof

#endif  // IICC_GATEWAY_PROOF_MERKLE_H_
