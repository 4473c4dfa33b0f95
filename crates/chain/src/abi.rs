//! The contract interfaces ballast calls, and the test contracts' bytecode.

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol;
use alloy::sol_types::SolCall;

sol! {
    /// ERC20, the part ballast uses.
    interface IERC20 {
        event Transfer(address indexed from, address indexed to, uint256 value);
        function balanceOf(address account) external view returns (uint256);
        function decimals() external view returns (uint8);
        function transfer(address to, uint256 amount) external returns (bool);
    }

    /// The Multicall3 subset ballast uses (also what `contracts/BalanceReader.sol` implements).
    interface IMulticall3 {
        struct Call3 {
            address target;
            bool allowFailure;
            bytes callData;
        }
        struct Result {
            bool success;
            bytes returnData;
        }
        function aggregate3(Call3[] calldata calls) external payable returns (Result[] memory returnData);
        function getEthBalance(address addr) external view returns (uint256 balance);
        function getBlockNumber() external view returns (uint256 blockNumber);
    }

    /// The test token's extras (`contracts/TestToken.sol`).
    interface ITestToken {
        function mint(address to, uint256 amount) external;
    }
}

/// Creation bytecode of `contracts/TestToken.sol` (constructor: name, symbol, decimals), built by
/// `contracts/build.sh`.
pub const TEST_TOKEN_BIN: &str = include_str!("../../../contracts/build/TestToken.bin");
/// Creation bytecode of `contracts/BalanceReader.sol` (a Multicall3-compatible balance reader).
pub const BALANCE_READER_BIN: &str = include_str!("../../../contracts/build/BalanceReader.bin");

/// Calldata of `transfer(to, amount)`.
pub fn transfer_calldata(to: Address, amount: U256) -> Bytes {
    IERC20::transferCall { to, amount }.abi_encode().into()
}

/// Decode `transfer(to, amount)` calldata.
pub fn decode_transfer(input: &[u8]) -> Option<(Address, U256)> {
    IERC20::transferCall::abi_decode(input)
        .ok()
        .map(|c| (c.to, c.amount))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_calldata_round_trips_and_has_the_erc20_selector() {
        let to = Address::repeat_byte(7);
        let data = transfer_calldata(to, U256::from(5u8));
        assert_eq!(&data[..4], &[0xa9, 0x05, 0x9c, 0xbb]);
        assert_eq!(decode_transfer(&data), Some((to, U256::from(5u8))));
        assert_eq!(decode_transfer(&data[..10]), None);
    }

    #[test]
    fn committed_bytecode_is_hex() {
        for bin in [TEST_TOKEN_BIN, BALANCE_READER_BIN] {
            let b = hex::decode(bin.trim()).unwrap();
            assert!(b.len() > 500);
        }
    }
}
