import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@deidflow/config';
import { createStorage } from './create-storage';
import { OBJECT_STORAGE, type ObjectStorage } from './object-storage';

/**
 * Provides OBJECT_STORAGE, ready to use: the directory or bucket exists once the module is up.
 * Needs APP_CONFIG (AppConfigModule) in the application.
 */
@Global()
@Module({
  providers: [
    {
      provide: OBJECT_STORAGE,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<ObjectStorage> => {
        const storage = createStorage(config);
        await storage.init();
        return storage;
      },
    },
  ],
  exports: [OBJECT_STORAGE],
})
export class StorageModule {}
