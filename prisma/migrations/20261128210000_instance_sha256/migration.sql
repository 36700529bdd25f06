-- AlterTable
ALTER TABLE "instances" DROP COLUMN "md5",
ADD COLUMN     "sha256" CHAR(64);
