// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// The subset of the Multicall3 interface ballast uses to read balances in one `eth_call` (so every value
/// comes from the same block): `aggregate3`, `getEthBalance` and `getBlockNumber`, with Multicall3's
/// signatures, so the same client code reads a canonical Multicall3 deployment on a live chain
/// (0xcA11bde05977b3631167028862bE2a173976CA11) and this contract on a local one.
contract BalanceReader {
    struct Call3 {
        address target;
        bool allowFailure;
        bytes callData;
    }

    struct Result {
        bool success;
        bytes returnData;
    }

    function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory results) {
        results = new Result[](calls.length);
        for (uint256 i = 0; i < calls.length; i++) {
            (bool ok, bytes memory data) = calls[i].target.call(calls[i].callData);
            require(ok || calls[i].allowFailure, "BalanceReader: call failed");
            results[i] = Result(ok, data);
        }
    }

    function getEthBalance(address account) external view returns (uint256) {
        return account.balance;
    }

    function getBlockNumber() external view returns (uint256) {
        return block.number;
    }
}
